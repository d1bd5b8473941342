/* Portfolio: every agreement with its targets' attainment, grouped by Land and year, filtered
   (filters kept in the URL). Agreements without quantitative targets are listed too. */

import { apiAll, claims, jobcenters, query } from "../api.js";
import { attainmentBar } from "../charts.js";
import {
  STATUS, breakdownName, indicatorName, landName, pct, withUnit,
} from "../de.js";
import { cellNum, downloadButton, empty, errorBox, h, select, show, statusBadge } from "../dom.js";
import { keepParams } from "../nav.js";

const FILTERS = ["land", "year", "indicator", "status", "page"];
const PAGE_SIZE = 40;
/** Agreements per page: a national portfolio (hundreds of jobcenters) stays quick to draw. */
const NATIONAL = 10 * PAGE_SIZE;
/** More agreements than ten pages hold: the portfolio opens on the latest year, not on all. */

export default {
  id: "portfolio",
  title: "Portfolio",
  roles: ["reader", "auditor"],
  render,
};

async function render(main, _arg, params) {
  const scope = claims();
  const filters = Object.fromEntries(FILTERS.map((key) => [key, params[key] || ""]));
  if (!("land" in params) && !scope.federal && scope.lands.length === 1) {
    filters.land = scope.lands[0];  // a Land's reader lands in its Land
    keepParams(filters);
  }
  // Only the targets shown are fetched: with an indicator or status chosen, those the API
  // filters; otherwise the agreements are paged and the targets of the page's Länder and years
  // fetched (a national page: three Länder's of one year, not every target of the country).
  const cache = new Map();
  const targets = (wanted) => {
    const path = "/attainment" + query(wanted);
    if (!cache.has(path)) cache.set(path, apiAll(path));
    return cache.get(path);
  };
  const narrowed = () => Boolean(filters.indicator || filters.status);
  const chosen = () => ({ land: filters.land, year: filters.year, indicator: filters.indicator, status: filters.status });
  if (narrowed() || (filters.land && filters.year)) targets(chosen()).catch(() => {});  // beside the agreements
  const [agreements, centres] = await Promise.all([apiAll("/agreements"), jobcenters()]);
  const distinct = (rows, key) => [...new Set(rows.map((row) => row[key]).filter((v) => v !== null))].sort();
  if (!("year" in params) && agreements.length > NATIONAL) {
    filters.year = String(distinct(agreements, "year").at(-1));  // a national portfolio opens on its latest year
    keepParams(filters);
  }
  const byId = Object.fromEntries(agreements.map((a) => [a.agreement_id, a]));
  const lands = scope.federal ? distinct(agreements, "land") : [...new Set([...scope.lands, ...distinct(agreements, "land")])].sort();
  const indicators = new Set(filters.indicator ? [filters.indicator] : []);  // those seen so far
  const indicatorOptions = () => [["", "alle Indikatoren"], ...[...indicators].sort().map((i) => [i, indicatorName(i)])];
  const change = (key) => (event) => {
    filters[key] = event.target.value;
    filters.page = "";
    keepParams(filters);
    refresh().catch((error) => show(results, errorBox(error)));
  };
  const indicatorBox = h("span", {});
  const drawIndicators = () => show(indicatorBox, select("f-indicator", "Indikator", indicatorOptions(), filters.indicator, change("indicator")));
  const filterBar = h("div", { class: "filters" },
    select("f-land", "Land", [["", scope.federal ? "alle Länder" : "alle Länder Ihres Bereichs"], ...lands.map((l) => [l, landName(l)])],
      filters.land, change("land")),
    select("f-year", "Jahr", [["", "alle Jahre"], ...distinct(agreements, "year").map((y) => [y, y])], filters.year, change("year")),
    indicatorBox,
    select("f-status", "Status", [["", "alle"], ...Object.entries(STATUS)], filters.status, change("status")),
    downloadButton("portfolio-csv", "CSV herunterladen", () => "/attainment" + query({ ...filters, page: "", format: "csv" }), "portfolio.csv"),
    h("span", { id: "portfolio-reports" }),
  );
  drawIndicators();
  // The portfolio report covers a Land, or Germany for federal readers.
  const reports = () => {
    const place = document.getElementById("portfolio-reports");
    if (!place) return;
    const open = scope.federal || (filters.land && scope.lands.includes(filters.land));
    const params = (format) => "/reports/portfolio" + query({ land: filters.land, year: filters.year, format });
    show(place, open ? [
      downloadButton("portfolio-pdf", "Bericht als PDF", () => params("pdf"), "portfolio.pdf"),
      downloadButton("portfolio-xlsx", "Bericht als Excel-Datei", () => params("xlsx"), "portfolio.xlsx"),
    ] : null);
  };
  const results = h("div", { id: "portfolio-results" });
  show(main, h("h1", {}, "Portfolio: Zielerreichung je Land und Jahr"), scopeNote(scope, centres), filterBar, results);

  let drawn = 0;  // the latest refresh draws; an earlier one still waiting for its answer does not
  async function refresh() {
    const mine = ++drawn;
    reports();
    const inPlace = (a) => (!filters.land || a.land === filters.land) && (!filters.year || String(a.year) === filters.year);
    let ids, rows;
    const page = () => Math.min(Math.max(1, Number(filters.page) || 1), Math.max(1, Math.ceil(ids.length / PAGE_SIZE)));
    const onPage = () => ids.slice((page() - 1) * PAGE_SIZE, page() * PAGE_SIZE);
    if (narrowed()) {
      rows = await targets(chosen());
      ids = [...new Set(rows.map((r) => r.agreement_id))].sort(byPlace(byId));
    } else {
      ids = agreements.filter(inPlace).map((a) => a.agreement_id).sort(byPlace(byId));
      // the targets of the page's jobcenter agreements, by Land and year (roll-ups have none here)
      const places = new Map();
      for (const id of onPage()) {
        const a = byId[id];
        if ((a.level || "jobcenter") === "jobcenter") places.set(`${a.land}|${a.year}`, { land: a.land, year: String(a.year) });
      }
      rows = (await Promise.all([...places.values()].map(targets))).flat();
    }
    if (mine !== drawn) return;
    const before = indicators.size;
    rows.forEach((r) => indicators.add(r.indicator));
    if (indicators.size !== before) drawIndicators();
    const shown = new Set(onPage());
    const withRows = new Set(rows.map((r) => r.agreement_id));
    const withoutTargets = narrowed() ? [] : onPage().map((id) => byId[id]).filter((a) => !withRows.has(a.agreement_id));
    if (!ids.length) {
      show(results, empty("portfolio-empty", emptyReason(scope, filters)));
      return;
    }
    const pages = Math.ceil(ids.length / PAGE_SIZE);
    const turn = (to) => {
      filters.page = to > 1 ? String(to) : "";
      keepParams(filters);
      refresh().catch((error) => show(results, errorBox(error)));
    };
    show(results,
      pages > 1 ? pager(page(), pages, ids.length, turn, "oben") : null,
      portfolioTables(rows.filter((r) => shown.has(r.agreement_id)), withoutTargets, centres, byId),
      pages > 1 ? pager(page(), pages, ids.length, turn, "unten") : null);
  }
  try { await refresh(); } catch (error) { show(results, errorBox(error)); }
}

/** Agreements in the order of their groups: Land (federal ones first), year, id. */
function byPlace(byId) {
  const key = (id) => { const a = byId[id] || {}; return `${a.land || ""}|${a.year}|${id}`; };
  return (x, y) => key(x).localeCompare(key(y));
}

function pager(page, pages, total, turn, where) {
  return h("nav", { class: "pager", "aria-label": `Seiten (${where})` },
    h("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => turn(page - 1) }, "‹ zurück"),
    h("span", { class: "pager-status" }, `Seite ${page} von ${pages} · ${total.toLocaleString("de-DE")} Zielvereinbarungen`),
    h("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => turn(page + 1) }, "weiter ›"));
}

/** Which part of the country the caller sees. */
export function scopeNote(scope, centres) {
  if (scope.federal) return null;
  const parts = [...scope.lands.map(landName), ...scope.jobcenters.map((id) => (centres[id] ? centres[id].name : `Jobcenter ${id}`))];
  return h("p", { class: "scope-note", id: "scope-note" }, `Ihr Bereich: ${parts.join(", ")}`);
}

function emptyReason(scope, filters) {
  if (filters.land && !scope.federal && !scope.lands.includes(filters.land) && !scope.jobcenters.length) {
    return `${landName(filters.land)} liegt außerhalb Ihres Bereichs.`;
  }
  if (filters.land && !scope.federal && !scope.lands.includes(filters.land)) {
    return `In ${landName(filters.land)} liegt kein Jobcenter Ihres Bereichs mit Zielen für diese Auswahl.`;
  }
  const where = filters.land ? ` in ${landName(filters.land)}` : "";
  return `Für diese Auswahl${where} liegen noch keine Ziele vor.`;
}

function agreementRow(agreement, centres) {
  const centre = centres[agreement.jobcenter_id];
  const party = agreement.level === "federal" ? "Bundesebene" : agreement.level === "land" ? `Landesebene ${landName(agreement.land)}`
    : centre ? centre.name : "Jobcenter außerhalb Ihres Bereichs";
  return h("tr", { class: `agreement-row level-${agreement.level || "jobcenter"}`, "data-agreement-row": agreement.agreement_id }, h("td", { colspan: 10 },
    h("a", { href: `#/agreement/${encodeURIComponent(agreement.agreement_id)}` }, agreement.title || `Zielvereinbarung ${agreement.year}`),
    " · ", party));
}

function portfolioTables(rows, withoutTargets, centres, byId) {
  const groups = new Map();
  const add = (land, year, item) => {
    const key = `${land ?? ""}|${year}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  };
  for (const row of rows) add(row.land, row.year, { row });
  for (const agreement of withoutTargets) add(agreement.land, agreement.year, { agreement });
  const sections = [];
  const federalFirst = ([a], [b]) => Number(!a.startsWith("|")) - Number(!b.startsWith("|")) || a.localeCompare(b);
  for (const [key, group] of [...groups].sort(federalFirst)) {
    const [land, year] = key.split("|");
    const body = h("tbody");
    let current = null;
    for (const { row, agreement } of group) {
      if (agreement) {
        body.append(agreementRow(agreement, centres),
          h("tr", { class: "no-targets-row", "data-agreement": agreement.agreement_id },
            h("td", { colspan: 10, class: "muted" }, agreement.level === "land" || agreement.level === "federal"
              ? "Zielvereinbarung über mehrere Jobcenter: Ziele und Mitglieder auf ihrer Seite."
              : "Keine quantitativen Ziele vereinbart (nur qualitative Ziele).")));
        continue;
      }
      if (row.agreement_id !== current) {
        current = row.agreement_id;
        body.append(agreementRow(byId[row.agreement_id] || { agreement_id: row.agreement_id, jobcenter_id: row.jobcenter_id, year: row.year }, centres));
      }
      body.append(h("tr", { "data-agreement": row.agreement_id, "data-target": row.target_id, class: "target-row" },
        h("td", {}, row.label || indicatorName(row.indicator)),
        h("td", {}, indicatorName(row.indicator)),
        h("td", {}, breakdownName(row.breakdown)),
        cellNum(withUnit(row.target_value, row.unit), row.target_value, "target-value"),
        cellNum(withUnit(row.actual, row.unit), row.actual, "actual"),
        cellNum(withUnit(row.forecast, row.unit), row.forecast, "forecast"),
        cellNum(pct(row.attainment_pct), row.attainment_pct, "attainment"),
        h("td", {}, attainmentBar(row.attainment_pct, row.status)),
        h("td", {}, statusBadge(row.status)),
        h("td", {}, row.final ? "endgültig" : `${row.months_reported} von 12 Monaten`)));
    }
    sections.push(h("section", { class: "group", "data-land": land, "data-year": year },
      h("h2", {}, `${land ? landName(land) : "Bund"} · ${year}`),
      h("div", { class: "table-scroll" }, h("table", {},
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Ziel"), h("th", { scope: "col" }, "Indikator"), h("th", { scope: "col" }, "Aufteilung"),
          h("th", { scope: "col", class: "num" }, "Zielwert"), h("th", { scope: "col", class: "num" }, "Ist"),
          h("th", { scope: "col", class: "num" }, "Prognose"), h("th", { scope: "col", class: "num" }, "Zielerreichung"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Balken")), h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col" }, "Stand"))),
        body))));
  }
  return h("div", {}, sections);
}
