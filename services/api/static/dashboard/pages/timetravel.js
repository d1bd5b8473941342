/* Time travel: an agreement's attainment as known at a log position or at the end of a day
   (record time), or as published by the end of a day (the sources' publication time), with
   every change since, naming the month each one is about. Dates are typed as dd.mm.yyyy. */

import { api } from "../api.js";
import {
  FIELD, NONE, day, eventName, monthName, num, parseGermanDate, pct, statusName, when, withUnit,
} from "../de.js";
import { cellNum, downloadButton, empty, errorBox, h, show, statusBadge } from "../dom.js";
import { renderAgreementList } from "./agreement.js";

export default {
  id: "timetravel",
  title: "Zeitreise",
  roles: ["reader", "auditor"],
  render: (main, arg) => (arg ? renderTimeTravel(main, arg) : renderAgreementList(main, "timetravel")),
};

/** The end of a day in German time, as an ISO moment ("2024-07-31" → "2024-07-31T23:59:59+02:00"). */
function endOfGermanDay(isoDay) {
  const noon = new Date(`${isoDay}T12:00:00Z`);
  const offset = new Intl.DateTimeFormat("en-US", { timeZone: "Europe/Berlin", timeZoneName: "shortOffset" })
    .formatToParts(noon).find((part) => part.type === "timeZoneName").value;   // "GMT+2"
  const hours = Number(offset.replace("GMT", "") || 0);
  return `${isoDay}T23:59:59${hours < 0 ? "-" : "+"}${String(Math.abs(hours)).padStart(2, "0")}:00`;
}

function dateField(id, label, hint) {
  const input = h("input", { type: "text", id, inputmode: "numeric", placeholder: "TT.MM.JJJJ",
    autocomplete: "off", "aria-describedby": `${id}-hint`, size: 11 });
  return { input, element: h("label", { for: id }, label, input, h("span", { class: "hint", id: `${id}-hint` }, hint)) };
}

async function renderTimeTravel(main, id) {
  const path = `/agreements/${encodeURIComponent(id)}`;
  const [health, current, agreement] = await Promise.all([api("/health"), api(`${path}/attainment`), api(path)]);
  const head = health.position;
  const range = h("input", { type: "range", id: "tt-range", min: 1, max: head, value: head, "aria-label": "Position im Ereignisprotokoll" });
  const number = h("input", { type: "number", id: "tt-position", min: 1, max: head, value: head, class: "narrow" });
  const recorded = dateField("tt-recorded", "Stand der Aufzeichnung", "bekannt am Ende dieses Tages");
  const published = dateField("tt-published", "Stand der Veröffentlichung", "veröffentlicht bis Ende dieses Tages");
  const message = h("p", { class: "field-error", id: "tt-date-error", role: "alert" });
  const answer = h("div", { id: "tt-answer" });
  const changes = h("div", { id: "tt-changes" });
  const heading = h("h2", { id: "tt-heading" });
  const report = h("p", { class: "actions", id: "tt-report" });
  range.addEventListener("input", () => { number.value = range.value; });
  range.addEventListener("change", () => showAt({ as_of_position: range.value }));
  number.addEventListener("change", () => { range.value = number.value; showAt({ as_of_position: number.value }); });

  function applyDates(event) {
    event.preventDefault();
    message.textContent = "";
    const at = {};
    for (const [field, key] of [[recorded, "as_of"], [published, "as_published"]]) {
      const text = field.input.value.trim();
      if (!text) { field.input.removeAttribute("aria-invalid"); continue; }
      const iso = parseGermanDate(text);
      if (!iso) {
        field.input.setAttribute("aria-invalid", "true");
        message.textContent = `„${text}“ ist kein gültiges Datum. Bitte als TT.MM.JJJJ eingeben, z. B. 31.07.2022.`;
        return;
      }
      field.input.removeAttribute("aria-invalid");
      at[key] = endOfGermanDay(iso);
    }
    if (!Object.keys(at).length) { message.textContent = "Bitte ein Datum eingeben (TT.MM.JJJJ)."; return; }
    showAt(at);
  }

  show(main,
    h("h1", {}, `Zeitreise: ${agreement.title || "Zielvereinbarung " + agreement.year}`),
    h("p", { class: "muted" }, "Wie war die Zielerreichung bekannt – bei einer Position im Ereignisprotokoll, am Ende eines Tages (Stand der Aufzeichnung) oder nach dem, was die Quellen bis zu einem Tag veröffentlicht hatten (Stand der Veröffentlichung)? Darunter jede Änderung seitdem."),
    h("div", { class: "card tt-controls" },
      h("label", { for: "tt-position" }, "Position im Ereignisprotokoll", h("span", { class: "row" }, range, number)),
      h("form", { class: "tt-dates", id: "tt-date-form", onsubmit: applyDates, novalidate: true },
        recorded.element, published.element,
        h("button", { type: "submit", id: "tt-apply-date" }, "Stand anzeigen")),
      h("button", { type: "button", class: "secondary", id: "tt-now", onclick: () => {
        recorded.input.value = published.input.value = ""; showAt({ as_of_position: head }); } }, "Heute"),
      h("a", { href: `#/agreement/${encodeURIComponent(id)}` }, "zur Zielvereinbarung")),
    message, heading, answer, report, h("h2", {}, "Änderungen seitdem"), changes);

  async function showAt(at) {
    try {
      const result = await api(`${path}/attainment?` + new URLSearchParams(at));
      const position = result.position;
      range.value = number.value = position;
      heading.textContent = at.as_published
        ? `Stand der Veröffentlichung ${day(at.as_published.slice(0, 10))} (bekannt bei Position ${position})`
        : at.as_of ? `Stand der Aufzeichnung ${day(at.as_of.slice(0, 10))} (Position ${position})`
          : `Stand bei Position ${position}`;
      show(answer, h("div", { class: "table-scroll" }, asOfTable(result, current)));
      const stand = at.as_of_position ? { as_of_position: position } : at;
      show(report, downloadButton("tt-report-pdf", "Bericht zu diesem Stand als PDF",
        `${path}/report?` + new URLSearchParams({ ...stand, format: "pdf" }), `bericht-${id}.pdf`));
      if (at.as_published) {  // the log's changes are by position; a publication date has none of its own
        show(changes, empty("tt-published-note", "Beim Stand der Veröffentlichung zeigt die Spalte „heute“, was sich seitdem geändert hat; die einzelnen Änderungen stehen bei einer Position oder einem Stand der Aufzeichnung."));
        return;
      }
      const found = await api(`${path}/changes?` + new URLSearchParams({ from_position: position, to_position: head }));
      show(changes, h("div", { class: "table-scroll" }, changeTable(found, current)));
    } catch (error) {
      show(answer, errorBox(error));
      show(changes);
    }
  }
  await showAt({ as_of_position: head });
}

function asOfTable(result, current) {
  const now = Object.fromEntries(current.targets.map((t) => [t.target_id, t]));
  if (!result.targets.length) return empty("tt-no-targets", "Zu diesem Stand gab es noch keine Ziele.");
  return h("table", { "data-position": result.position },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Ziel"), h("th", { scope: "col", class: "num" }, "Zielwert"),
      h("th", { scope: "col", class: "num" }, "Ist"), h("th", { scope: "col", class: "num" }, "Monate"),
      h("th", { scope: "col", class: "num" }, "Prognose"), h("th", { scope: "col", class: "num" }, "Zielerreichung"),
      h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "num" }, "heute"))),
    h("tbody", {}, result.targets.map((t) => {
      const today = now[t.target_id];
      const differs = !today || today.attainment_pct !== t.attainment_pct;
      return h("tr", { "data-target": t.target_id, class: differs ? "changed" : "" },
        h("td", {}, t.label || t.target_id),
        cellNum(withUnit(t.target_value, t.unit), t.target_value, "target-value"),
        cellNum(withUnit(t.actual, t.unit), t.actual, "actual"),
        cellNum(t.months_reported, t.months_reported, "months"),
        cellNum(withUnit(t.forecast, t.unit), t.forecast, "forecast"),
        cellNum(pct(t.attainment_pct), t.attainment_pct, "attainment"),
        h("td", {}, statusBadge(t.status)),
        cellNum(today ? pct(today.attainment_pct) : NONE, today ? today.attainment_pct : null, "today"));
    })));
}

/** What a change was: "Monatswert Juli 2024 korrigiert", "Zielwert geändert", ... */
export function changeTitle(change) {
  if (change.period && change.event_type === "MonthlyFigureCorrected") return `Monatswert ${monthName(change.period)} korrigiert`;
  if (change.period && change.event_type === "MonthlyFigureReported") return `Monatswert ${monthName(change.period)} gemeldet`;
  return eventName(change.event_type);
}

function changeTable(found, current) {
  if (!found.items.length) return empty("tt-no-changes", "Seitdem hat sich nichts geändert.");
  const labels = Object.fromEntries(current.targets.map((t) => [t.target_id, t.label || t.target_id]));
  return h("table", { id: "tt-change-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, "Position"), h("th", { scope: "col" }, "aufgezeichnet"),
      h("th", { scope: "col" }, "Ereignis"), h("th", { scope: "col" }, "Ziel"), h("th", { scope: "col" }, "Änderung (alt → neu)"))),
    h("tbody", {}, found.items.map((change) => {
      const old = change.old || {}, now = change.new || {};
      const fields = Object.keys(FIELD).filter((f) => JSON.stringify(old[f]) !== JSON.stringify(now[f]));
      return h("tr", { class: "change", "data-position": change.position, "data-period": change.period || "" },
        cellNum(change.position, change.position), h("td", {}, when(change.recorded_at)),
        h("td", { class: "event" }, changeTitle(change)), h("td", {}, labels[change.target_id] || "zurückgezogenes Ziel"),
        h("td", {}, h("ul", { class: "plain" }, fields.map((f) =>
          h("li", {}, `${FIELD[f]}: ${value(old[f], f)} → ${value(now[f], f)}`)))));
    })));
}

function value(v, field) {
  if (v === undefined || v === null) return NONE;
  if (field === "status") return statusName(v);
  if (field === "attainment_pct") return pct(v);
  if (typeof v === "boolean") return v ? "ja" : "nein";
  return num(v);
}
