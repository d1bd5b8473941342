/* The country and the cascade: a tile map of the 16 Länder (each tile in its rough place, no
   geodata) coloured by the attainment of the Land agreements or by a key figure, each tile a
   link to its Land; the federal agreement's targets. A Land's page: its Land agreement's targets
   and its jobcenters' targets, a page at a time, filters in the URL.
   Route #/laender/<DE-XX>?jahr=&farbe=&status=&seite=. */

import { apiAll, api, claims, jobcenters, query } from "../api.js";
import { attainmentBar } from "../charts.js";
import { LAND, STATUS, breakdownName, indicatorName, landName, monthName, pct, withUnit } from "../de.js";
import { cellNum, empty, h, select, show, statusBadge } from "../dom.js";
import { href, keepParams } from "../nav.js";
import { CODES, shortCode } from "./keyfigures.js";

export default {
  id: "laender",
  title: "Länder",
  roles: ["reader", "auditor"],
  render,
};

/** Each Land's tile: [column, row] on a 5 × 5 grid, roughly where it lies. */
export const TILES = {
  "DE-SH": [3, 1],
  "DE-HB": [2, 2], "DE-HH": [3, 2], "DE-MV": [4, 2],
  "DE-NW": [1, 3], "DE-NI": [2, 3], "DE-ST": [3, 3], "DE-BE": [4, 3], "DE-BB": [5, 3],
  "DE-RP": [1, 4], "DE-HE": [2, 4], "DE-TH": [3, 4], "DE-SN": [4, 4],
  "DE-SL": [1, 5], "DE-BW": [2, 5], "DE-BY": [3, 5],
};
const SHADES = 5;
const GOOD = new Set(["achieved", "on_track"]);
const PAGE_SIZE = 120;

async function render(main, arg, params) {
  const scope = claims();
  if (!arg && !scope.federal) {  // a Land's reader lands in its Land, a jobcenter's in its jobcenter's
    const centre = (await jobcenters())[scope.jobcenters[0]];
    arg = scope.lands.length === 1 ? scope.lands[0] : !scope.lands.length && centre ? centre.land : "";
    if (arg) history.replaceState(null, "", location.pathname + location.search + href("laender", arg, params));
  }
  return arg ? renderLand(main, arg, params, scope) : renderCountry(main, params, scope);
}

/** Share of a Land's targets achieved or on track, over the targets that have a status. */
function attainmentShare(rows) {
  const rated = rows.filter((r) => r.status !== "no_data");
  return rated.length ? { value: (100 * rated.filter((r) => GOOD.has(r.status)).length) / rated.length, n: rated.length,
    good: rated.filter((r) => GOOD.has(r.status)).length } : null;
}

async function renderCountry(main, params, scope) {
  const state = { farbe: "attainment", ...params };
  const landRows = (await apiAll("/attainment?level=land")).filter((r) => r.level === "land");
  const years = [...new Set(landRows.map((r) => String(r.year)))].sort();
  if (!years.includes(state.jahr)) state.jahr = years[years.length - 1] || "";
  const heading = h("h1", {}, "Deutschland: Länder und Bund");
  const mapBox = h("section", { class: "card", id: "land-map-section" });
  const federal = h("section", { id: "federal-section" });
  show(main, heading, mapBox, federal);
  await Promise.all([drawMap(mapBox, state, landRows, years), drawFederal(federal, state, scope)]);
}

async function drawMap(box, state, landRows, years) {
  keepParams(state);
  const redraw = (key) => (event) => { state[key] = event.target.value; drawMap(box, state, landRows, years); };
  const controls = h("div", { class: "filters" },
    select("map-colour", "Färbung nach", [["attainment", "Zielerreichung der Land-Zielvereinbarungen"],
      ...CODES.map((c) => [c, `Kennzahl ${indicatorName(c)}`])], state.farbe, redraw("farbe")),
    state.farbe === "attainment" && years.length ? select("map-year", "Jahr", years.map((y) => [y, y]), state.jahr, redraw("jahr")) : null);
  let values, legendTitle, format, note;
  if (state.farbe === "attainment") {
    values = {};
    for (const land of Object.keys(TILES)) {
      const share = attainmentShare(landRows.filter((r) => r.land === land && String(r.year) === state.jahr));
      if (share) values[land] = { value: share.value, text: pct(share.value), suffix: " erreicht oder auf Kurs", detail: `${share.good} von ${share.n} Zielen` };
    }
    legendTitle = `Anteil der Ziele der Land-Zielvereinbarung ${state.jahr}, die erreicht oder auf Kurs sind`;
    format = (v) => pct(v);
    note = "Dunkler heißt: mehr Ziele erreicht oder auf Kurs.";
  } else {
    const germany = await apiAll("/key-figures" + query({ level: "germany", code: state.farbe, breakdown: "total" }));
    const lands = await apiAll("/key-figures" + query({ level: "land", code: state.farbe, breakdown: "total" }));
    const period = (germany.length ? germany : lands).map((r) => r.period).sort().pop();
    values = {};
    for (const r of lands.filter((row) => row.period === period)) values[r.land] = { value: Number(r.value), text: pct(r.value), detail: `${r.jobcenters} Jobcenter` };
    const whole = germany.find((r) => r.period === period);
    legendTitle = `${indicatorName(state.farbe)}, ${period ? monthName(period) : "kein Monat"}` + (whole ? ` (Deutschland: ${pct(whole.value)})` : "");
    format = (v) => pct(v);
    note = "Dunkler heißt: höherer Wert. Der Wert steht auf jeder Kachel.";
  }
  const present = Object.values(values).map((v) => v.value);
  const low = Math.min(...present), high = Math.max(...present);
  const shade = (v) => (high > low ? Math.min(SHADES - 1, Math.floor(((v - low) / (high - low)) * SHADES)) : SHADES - 1);
  const bins = !present.length ? [] : high === low ? [[SHADES - 1, low, high]]
    : [...Array(SHADES).keys()].map((i) => [i, low + ((high - low) * i) / SHADES, low + ((high - low) * (i + 1)) / SHADES]);
  const tiles = Object.entries(TILES).map(([land, [column, row]]) => {
    const v = values[land];
    const text = v ? v.text : "keine Werte";
    return h("a", {
      class: `tile shade-${v ? shade(v.value) : "none"}`, href: href("laender", land), "data-land": land,
      "data-value": v ? v.value : "", style: `grid-column: ${column}; grid-row: ${row}`,
    }, h("span", { class: "tile-code" }, land), h("span", { class: "tile-name" }, LAND[land]),
    h("span", { class: "tile-value" }, text, v && v.suffix ? h("span", { class: "tile-suffix" }, v.suffix) : null),
    v ? h("span", { class: "visually-hidden" }, ` (${v.detail})`) : null);
  });
  show(box, h("h2", {}, "Länderkarte"), controls,
    h("div", { class: "tile-map", id: "land-map", role: "group", "aria-label": `Länderkarte: ${legendTitle}` }, tiles),
    h("div", { class: "map-legend", id: "map-legend" }, h("p", {}, h("b", {}, legendTitle)),
      bins.length ? h("ul", { class: "bins" }, bins.map(([i, from, to]) => h("li", {}, h("span", { class: `swatch shade-${i}`, "aria-hidden": "true" }),
        high > low ? `${format(from)} bis ${format(to)}` : format(from)))) : null,
      h("ul", { class: "bins" }, h("li", {}, h("span", { class: "swatch shade-none", "aria-hidden": "true" }), "keine Werte (noch keine Daten oder außerhalb Ihres Bereichs)")),
      h("p", { class: "muted" }, note, " Jede Kachel führt zu ihrem Land.")));
}

async function drawFederal(section, state, scope) {
  if (!scope.federal) {
    show(section, h("h2", {}, "Bundesweite Zielvereinbarung"),
      empty("federal-empty", "Die bundesweite Zielvereinbarung ist nur mit bundesweitem Zugriff sichtbar."));
    return;
  }
  const rows = (await apiAll("/attainment" + query({ level: "germany", year: state.jahr }))).filter((r) => r.level === "federal");
  show(section, h("h2", {}, `Bundesweite Zielvereinbarung ${state.jahr || ""}`.trim()),
    rows.length ? targetTable("federal-targets", rows) : empty("federal-empty", `Für ${state.jahr || "dieses Jahr"} liegt keine bundesweite Zielvereinbarung mit Zielen vor.`));
}

/** Targets of agreements (portfolio rows), one header row per agreement. */
function targetTable(id, rows, nameOf = () => null) {
  const body = h("tbody");
  let current = null;
  for (const row of rows) {
    if (row.agreement_id !== current) {
      current = row.agreement_id;
      body.append(h("tr", { class: "agreement-row", "data-agreement-row": row.agreement_id }, h("td", { colspan: 8 },
        h("a", { href: `#/agreement/${encodeURIComponent(row.agreement_id)}` }, nameOf(row) || `Zielvereinbarung ${row.year}`))));
    }
    body.append(h("tr", { class: "target-row", "data-agreement": row.agreement_id, "data-target": row.target_id },
      h("td", {}, row.label || indicatorName(row.indicator)), h("td", {}, breakdownName(row.breakdown)),
      cellNum(withUnit(row.target_value, row.unit), row.target_value, "target-value"),
      cellNum(withUnit(row.actual, row.unit), row.actual, "actual"),
      cellNum(pct(row.attainment_pct), row.attainment_pct, "attainment"),
      h("td", {}, attainmentBar(row.attainment_pct, row.status)), h("td", {}, statusBadge(row.status)),
      h("td", {}, row.final ? "endgültig" : `${row.months_reported} von 12 Monaten`)));
  }
  return h("div", { class: "table-scroll" }, h("table", { id },
    h("thead", {}, h("tr", {}, ["Ziel", "Aufteilung"].map((t) => h("th", { scope: "col" }, t)),
      ["Zielwert", "Ist", "Zielerreichung"].map((t) => h("th", { scope: "col", class: "num" }, t)),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Balken")), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Stand"))),
    body));
}

async function renderLand(main, land, params, scope) {
  const state = { ...params };
  const heading = [
    h("nav", { class: "crumbs", "aria-label": "Ebenen" }, scope.federal ? [h("a", { href: href("laender") }, "Deutschland"), " › "] : null,
      h("span", { "aria-current": "page" }, landName(land))),
    h("h1", {}, `${landName(land)} (${land})`),
    h("p", {}, h("a", { href: href("kennzahlen", land) }, `Kennzahlen von ${landName(land)} und seinen Jobcentern`))];
  if (!LAND[land]) { show(main, heading, empty("land-empty", "Dieses Land gibt es nicht.")); return; }
  const agreements = await apiAll("/agreements" + query({ land }));
  const years = [...new Set(agreements.map((a) => String(a.year)))].sort();
  if (!years.includes(state.jahr)) state.jahr = years[years.length - 1] || "";
  keepParams(state);
  if (!years.length) {
    const outside = !scope.federal && !scope.lands.includes(land) && !scope.jobcenters.length;
    show(main, ...heading, empty("land-empty", outside ? `${landName(land)} liegt außerhalb Ihres Bereichs.`
      : `In ${landName(land)} liegen noch keine Zielvereinbarungen vor.`));
    return;
  }
  const landSection = h("section", { id: "land-agreement-section" });
  const portfolio = h("section", { id: "land-portfolio" });
  const yearSelect = select("land-year", "Jahr", years.map((y) => [y, y]), state.jahr,
    (event) => { state.jahr = event.target.value; delete state.seite; keepParams(state); renderLand(main, land, state, scope); });
  show(main, ...heading, h("div", { class: "filters" }, yearSelect), landSection, portfolio);
  const landRows = scope.federal || scope.lands.includes(land)
    ? (await apiAll("/attainment" + query({ level: "land", land, year: state.jahr }))).filter((r) => r.level === "land") : [];
  show(landSection, h("h2", {}, `Land-Zielvereinbarung ${state.jahr}`),
    landRows.length ? targetTable("land-targets", landRows, () => `Zielvereinbarung ${landName(land)} ${state.jahr}`)
      : empty("land-agreement-empty", scope.federal || scope.lands.includes(land)
        ? `Für ${state.jahr} liegt in ${landName(land)} keine Land-Zielvereinbarung mit Zielen vor.`
        : "Die Land-Zielvereinbarung ist mit Ihrem Zugang nicht sichtbar: sie summiert auch Jobcenter außerhalb Ihres Bereichs."));
  await drawPortfolio(portfolio, land, state);
}

/** The Land's jobcenters' targets for the year, one page of rows at a time. */
async function drawPortfolio(section, land, state) {
  const pageNo = Math.max(1, Number(state.seite) || 1);
  const filters = { land, year: state.jahr, status: state.status || "" };
  const [answer, centres] = await Promise.all([
    api("/attainment" + query({ ...filters, limit: PAGE_SIZE, offset: (pageNo - 1) * PAGE_SIZE })), jobcenters()]);
  const pages = Math.max(1, Math.ceil(answer.count / PAGE_SIZE));
  const go = (to) => () => { state.seite = String(to); keepParams(state); drawPortfolio(section, land, state); section.scrollIntoView(); };
  const first = answer.count ? (pageNo - 1) * PAGE_SIZE + 1 : 0;
  const last = Math.min(answer.count, pageNo * PAGE_SIZE);
  const statusSelect = select("land-status", "Status", [["", "alle"], ...Object.entries(STATUS)], state.status || "",
    (event) => { state.status = event.target.value; delete state.seite; keepParams(state); drawPortfolio(section, land, state); });
  const pager = h("nav", { class: "pager", "aria-label": "Seiten" },
    pages > 1 ? h("button", { type: "button", class: "secondary", id: "page-prev", disabled: pageNo <= 1, onclick: go(pageNo - 1) }, "Vorherige Seite") : null,
    h("span", { id: "page-info", role: "status" }, `Ziele ${first.toLocaleString("de-DE")}–${last.toLocaleString("de-DE")} von ${answer.count.toLocaleString("de-DE")}`,
      pages > 1 ? ` · Seite ${pageNo} von ${pages}` : null),
    pages > 1 ? h("button", { type: "button", class: "secondary", id: "page-next", disabled: pageNo >= pages, onclick: go(pageNo + 1) }, "Nächste Seite") : null);
  const nameOf = (row) => `${centres[row.jobcenter_id] ? centres[row.jobcenter_id].name : "Jobcenter"} · Zielvereinbarung ${row.year}`;
  show(section, h("h2", {}, `Zielvereinbarungen der Jobcenter ${state.jahr}`), h("div", { class: "filters" }, statusSelect),
    answer.items.length ? [targetTable("land-portfolio-table", answer.items, nameOf), pager]
      : empty("land-portfolio-empty", state.status ? `Kein Ziel eines Jobcenters in ${landName(land)} hat ${state.jahr} den Status „${STATUS[state.status]}“.`
        : `Für ${state.jahr} liegen in ${landName(land)} keine Ziele von Jobcentern vor (oder sie liegen außerhalb Ihres Bereichs).`));
}
