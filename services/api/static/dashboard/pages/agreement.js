/* One agreement: each target's year trajectory (Soll, Ist, forecast, corrected months, months
   in their waiting period), budget lines, target dialogues, qualitative goals; the list of
   agreements when none is named. */

import { api, apiAll, jobcenters, query } from "../api.js";
import { trajectoryChart } from "../charts.js";
import {
  COMPARATOR, PLAN_BASIS, aggregationName, breakdownName, budgetLineName, day, euro, landName,
  monthName, num, pct, withUnit,
} from "../de.js";
import { cellNum, chartBox, downloadButton, empty, h, show, statusBadge } from "../dom.js";

export default {
  id: "agreement",
  title: "Zielvereinbarung",
  roles: ["reader", "auditor"],
  render: (main, arg) => (arg ? renderAgreement(main, arg) : renderAgreementList(main, "agreement")),
};

const LEVEL_NAMES = {
  land: "Landesebene (Summe der Mitglieder)",
  federal: "Bundesebene (Summe der Mitglieder)",
};

export async function renderAgreementList(main, page) {
  const [agreements, centres] = await Promise.all([apiAll("/agreements"), jobcenters()]);
  const heading = h("h1", {}, page === "timetravel" ? "Zeitreise: Zielvereinbarung wählen" : "Zielvereinbarungen");
  if (!agreements.length) {
    show(main, heading, empty("no-agreements", "In Ihrem Bereich liegen noch keine Zielvereinbarungen vor."));
    return;
  }
  show(main, heading, h("div", { class: "table-scroll" }, h("table", { id: "agreement-list" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Zielvereinbarung"), h("th", { scope: "col" }, "Jobcenter"),
      h("th", { scope: "col" }, "Land"), h("th", { scope: "col" }, "Jahr"), h("th", { scope: "col" }, "Status"))),
    h("tbody", {}, agreements.map((a) => h("tr", { "data-agreement": a.agreement_id },
      h("td", {}, h("a", { href: `#/${page}/${encodeURIComponent(a.agreement_id)}` }, a.title || `Zielvereinbarung ${a.year}`)),
      h("td", {}, a.jobcenter_id ? (centres[a.jobcenter_id] ? centres[a.jobcenter_id].name : "unbekannt")
        : LEVEL_NAMES[a.level]), h("td", {}, landName(a.land)),
      h("td", {}, a.year), h("td", {}, a.status === "closed" ? `abgeschlossen (${day(a.closed_on)})` : "offen")))))));
}

async function renderAgreement(main, id) {
  const path = `/agreements/${encodeURIComponent(id)}`;
  const [agreement, result, centres] = await Promise.all([api(path), api(`${path}/attainment`), jobcenters()]);
  const figuresByIndicator = {};
  await Promise.all([...new Set(result.targets.map((t) => t.indicator))].map(async (indicator) => {
    // A Land or federal agreement is measured on its members' sum: no one jobcenter's months.
    figuresByIndicator[indicator] = agreement.jobcenter_id ? await apiAll("/figures" + query({
      jobcenter_id: agreement.jobcenter_id, indicator, year: agreement.year })) : [];
  }));
  const definitions = Object.fromEntries(agreement.targets.map((t) => [t.target_id, t]));
  const cards = result.targets.map((target) => targetCard(
    target, definitions[target.target_id], agreement.year,
    figuresByIndicator[target.indicator].filter((f) => f.breakdown === target.breakdown)));
  const centre = centres[agreement.jobcenter_id];
  show(main,
    h("h1", {}, agreement.title || `Zielvereinbarung ${agreement.year} – ${centre ? centre.name
      : agreement.level === "federal" ? "Bund" : landName(agreement.land)}`),
    h("div", { class: "card" },
      h("p", { id: "agreement-facts" }, agreement.jobcenter_id
        ? `Jobcenter: ${centre ? centre.name : "unbekannt"} · `
        : `${LEVEL_NAMES[agreement.level]}: ${agreement.members.map((m) => m.name || m.jobcenter_id).join(", ")} · `,
        `Land: ${landName(agreement.land)} · Jahr ${agreement.year} · `,
        agreement.status === "closed" ? `abgeschlossen am ${day(agreement.closed_on)}` : "offen"),
      h("p", { class: "muted" }, "Partner: ", agreement.parties.join("; ")),
      h("p", { class: "actions" },
        h("a", { href: `#/timetravel/${encodeURIComponent(agreement.agreement_id)}` }, "Zeitreise: Stand zu einem früheren Zeitpunkt"),
        downloadButton("agreement-csv", "Zielerreichung als CSV", `${path}/attainment?format=csv`, `zielerreichung-${id}.csv`),
        downloadButton("agreement-pdf", "Bericht als PDF", `${path}/report?format=pdf`, `bericht-${id}.pdf`),
        downloadButton("agreement-xlsx", "Bericht als Excel-Datei", `${path}/report?format=xlsx`, `bericht-${id}.xlsx`))),
    h("h2", {}, "Ziele: Jahresverlauf"),
    cards.length ? legend() : null,
    cards.length ? h("div", { class: "targets" }, cards)
      : empty("no-targets", "Diese Zielvereinbarung enthält keine quantitativen Ziele, nur qualitative (unten)."),
    h("div", { class: "cols" },
      h("div", {}, h("h2", {}, "Haushalt"), budgetTable(agreement.budget_lines)),
      h("div", {}, h("h2", {}, "Zieldialoge"), dialogList(agreement.dialogs))),
    h("h2", {}, "Qualitative Ziele und Unterstützung durch das Land"), goalList(agreement.goals));
}

function legend() {
  return h("div", { class: "legend" },
    h("span", { class: "actual" }, "Ist (kumuliert bzw. Monatswert)"),
    h("span", { class: "expected" }, "Soll bzw. Zielwert"),
    h("span", { class: "forecast" }, "Prognose"),
    h("span", { class: "correction" }, "korrigierter Monatswert"),
    h("span", { class: "waiting" }, "Monat noch in der Wartezeit (vorläufig)"),
    h("span", { class: "amendment" }, "Zieländerung"));
}

function targetCard(target, definition, year, figures) {
  const amendments = definition ? definition.amendments : [];
  const corrected = figures.filter((f) => f.revision_count > 0);
  const waiting = figures.filter((f) => (f.flags || []).includes("waiting_period"));
  return h("div", { class: "card target-card", "data-target": target.target_id },
    h("h3", {}, target.label || aggregationName(target.aggregation),
      target.breakdown !== "total" ? ` (${breakdownName(target.breakdown)})` : "", " ",
      statusBadge(target.status)),
    h("div", { class: "facts" },
      h("span", {}, "Zielwert ", h("b", { class: "target-value", "data-value": target.target_value }, withUnit(target.target_value, target.unit))),
      h("span", {}, "Ist ", h("b", { class: "actual", "data-value": target.actual }, withUnit(target.actual, target.unit))),
      h("span", {}, "Prognose ", h("b", { class: "forecast", "data-value": target.forecast }, withUnit(target.forecast, target.unit))),
      h("span", {}, "Zielerreichung ", h("b", { class: "attainment", "data-value": target.attainment_pct }, pct(target.attainment_pct))),
      h("span", { class: "muted" }, `${COMPARATOR[target.comparator] || ""} · ${aggregationName(target.aggregation)} · ${target.months_reported} ${target.months_reported === 1 ? "Monat" : "Monate"}`),
      target.plan_basis ? h("span", { class: "muted plan-basis", "data-basis": target.plan_basis }, PLAN_BASIS[target.plan_basis]) : null,
      corrected.length ? h("span", { class: "muted corrections" }, `korrigiert: ${corrected.map((f) => monthName(f.period)).join(", ")}`) : null,
      waiting.length ? h("span", { class: "muted waiting-months" }, `in der Wartezeit: ${waiting.map((f) => monthName(f.period)).join(", ")}`) : null),
    chartBox(trajectoryChart(target, figures, amendments, year)),
    amendments.length ? h("ul", { class: "plain amendments" }, amendments.map((a) =>
      h("li", {}, `Änderung ab ${day(a.effective_from)}: Zielwert ${num(a.value)} (vereinbart ${num(definition.agreed_value)}) – ${a.reason}`))) : null);
}

function budgetTable(lines) {
  if (!lines.length) return empty("no-budget", "Für diese Zielvereinbarung sind keine Haushaltsmittel erfasst.");
  return h("table", { id: "budget" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Haushaltslinie"), h("th", { scope: "col", class: "num" }, "zugewiesen"),
      h("th", { scope: "col" }, "Abweichungen"), h("th", { scope: "col", class: "num" }, "aktuell"))),
    h("tbody", {}, lines.map((line) => h("tr", { "data-budget-line": line.budget_line },
      h("td", {}, budgetLineName(line.budget_line), line.measures.length ? h("div", { class: "muted" }, `${line.measures.length} Maßnahmen`) : null),
      cellNum(euro(line.allocated), line.allocated),
      h("td", {}, line.deviations.length ? h("ul", { class: "plain" }, line.deviations.map((d) =>
        h("li", { class: "deviation" }, `${monthName(d.period)}: ${d.amount_eur > 0 ? "+" : ""}${euro(d.amount_eur)} – ${d.reason}`)))
        : h("span", { class: "muted" }, "keine")),
      cellNum(euro(line.current), line.current, "current")))));
}

function dialogList(dialogs) {
  if (!dialogs.length) return empty("no-dialogs", "Noch kein Zieldialog erfasst.");
  return h("ul", { class: "plain", id: "dialogs" }, dialogs.map((d) =>
    h("li", {}, h("b", {}, `Zieldialog ${day(d.held_on)}: `), d.summary)));
}

function goalList(goals) {
  if (!goals.length) return empty("no-goals", "Keine qualitativen Ziele vereinbart.");
  return h("div", { id: "goals" }, goals.map((g) => h("div", { class: "card goal" },
    h("h3", {}, g.section), h("p", {}, g.text),
    g.state_support.length ? h("div", {}, h("b", {}, "Unterstützung durch das Land:"),
      h("ul", { class: "plain" }, g.state_support.map((x) => h("li", {}, x))))
      : h("p", { class: "muted" }, "Keine Unterstützung des Landes genannt."))));
}
