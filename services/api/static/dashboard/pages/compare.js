/* Comparison: one indicator's attainment over the jobcenters of a Land, as bars and a table. */

import { apiAll, claims, jobcenters, query } from "../api.js";
import { attainmentBars } from "../charts.js";
import { BREAKDOWN, indicatorName, landName, pct, withUnit } from "../de.js";
import { cellNum, chartBox, empty, errorBox, h, select, show, statusBadge } from "../dom.js";
import { keepParams } from "../nav.js";

export default {
  id: "compare",
  title: "Vergleich",
  roles: ["reader", "auditor"],
  render,
};

async function render(main, _arg, params) {
  const scope = claims();
  const state = { land: "", year: "", indicator: "", breakdown: "total", sort: "value-desc", ...params };
  // Only what is shown is fetched: a Land's agreement years, then that Land's targets of one
  // year (the API filters both), never the whole country's.
  const cache = new Map();
  const once = (path) => { if (!cache.has(path)) cache.set(path, apiAll(path)); return cache.get(path); };
  const yearsOf = async (land) => [...new Set((await once("/agreements" + query({ land }))).map((a) => String(a.year)))].sort();
  const rowsOf = (land, year) => (year ? once("/attainment" + query({ land, year })) : Promise.resolve([]));
  const early = state.land ? yearsOf(state.land) : null;  // a Land from the link: fetched beside the jobcenters
  if (early) early.catch(() => {});
  const centres = await jobcenters();
  const lands = [...new Set(Object.values(centres).map((c) => c.land).filter(Boolean))].sort();
  const heading = h("h1", {}, "Vergleich: ein Indikator über die Jobcenter eines Landes");
  if (!lands.length) {
    show(main, heading, empty("compare-empty", scope.federal
      ? "Es liegen noch keine Jobcenter vor, die sich vergleichen ließen."
      : "In Ihrem Bereich liegen noch keine Jobcenter vor, die sich vergleichen ließen."));
    return;
  }
  if (!lands.includes(state.land)) state.land = lands.includes(scope.lands[0]) ? scope.lands[0] : lands.includes("DE-HE") ? "DE-HE" : lands[0];
  let years = [];
  let rows = [];
  const indicators = () => [...new Set(rows.map((r) => r.indicator))].sort();
  const controls = h("div", { class: "filters" });
  const chart = h("div", { id: "compare-chart", class: "card" });
  show(main, heading, controls, chart);

  async function fetchLand() {
    years = await yearsOf(state.land);
    if (!years.includes(String(state.year))) state.year = years.at(-1) || "";
    await fetchYear();
  }
  async function fetchYear() {
    rows = await rowsOf(state.land, state.year);
    if (!indicators().includes(state.indicator)) {
      state.indicator = indicators().includes("integrations") ? "integrations" : indicators()[0] || "";
    }
  }
  function drawControls() {
    keepParams(state);
    const set = (key, fetch) => async (e) => {
      state[key] = e.target.value;
      try { await fetch(); } catch (error) { show(chart, errorBox(error)); return; }
      drawControls();
      draw();
    };
    show(controls,
      select("c-land", "Land", lands.map((l) => [l, landName(l)]), state.land, set("land", fetchLand)),
      select("c-year", "Jahr", years.map((y) => [y, y]), state.year, set("year", fetchYear)),
      select("c-indicator", "Indikator", indicators().map((i) => [i, indicatorName(i)]), state.indicator, set("indicator", async () => {})),
      select("c-breakdown", "Aufteilung", Object.entries(BREAKDOWN), state.breakdown, set("breakdown", async () => {})),
      select("c-sort", "Sortierung", [["value-desc", "Zielerreichung absteigend"], ["value-asc", "Zielerreichung aufsteigend"], ["name", "Jobcenter (A–Z)"]],
        state.sort, set("sort", async () => {})));
  }
  function draw() {
    const shown = rows.filter((r) => r.indicator === state.indicator && r.breakdown === state.breakdown);
    show(chart, shown.length ? compareView(shown, centres, state.sort)
      : empty("compare-empty", years.length ? "Für diese Auswahl liegen noch keine Ziele vor."
        : `Für ${landName(state.land)} liegen noch keine Zielvereinbarungen vor.`));
  }
  try { await fetchLand(); } catch (error) { show(chart, errorBox(error)); return; }
  drawControls();
  draw();
}

function compareView(rows, centres, sort) {
  const name = (r) => (centres[r.jobcenter_id] ? centres[r.jobcenter_id].name : "unbekanntes Jobcenter");
  const sorted = [...rows].sort(sort === "name" ? (a, b) => name(a).localeCompare(name(b), "de")
    : (a, b) => (sort === "value-asc" ? 1 : -1) * ((a.attainment_pct ?? -1) - (b.attainment_pct ?? -1)));
  const table = h("table", { id: "compare-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Jobcenter"), h("th", { scope: "col" }, "Zielvereinbarung"),
      h("th", { scope: "col", class: "num" }, "Zielwert"), h("th", { scope: "col", class: "num" }, "Ist"),
      h("th", { scope: "col", class: "num" }, "Prognose"), h("th", { scope: "col", class: "num" }, "Zielerreichung"),
      h("th", { scope: "col" }, "Status"))),
    h("tbody", {}, sorted.map((r) => h("tr", { "data-jobcenter": r.jobcenter_id },
      h("td", {}, name(r)), h("td", {}, h("a", { href: `#/agreement/${encodeURIComponent(r.agreement_id)}` }, `${r.year}: ${r.label || indicatorName(r.indicator)}`)),
      cellNum(withUnit(r.target_value, r.unit), r.target_value, "target-value"), cellNum(withUnit(r.actual, r.unit), r.actual, "actual"),
      cellNum(withUnit(r.forecast, r.unit), r.forecast, "forecast"), cellNum(pct(r.attainment_pct), r.attainment_pct, "attainment"),
      h("td", {}, statusBadge(r.status))))));
  return h("div", {}, chartBox(attainmentBars(sorted, name, "compare-svg")), h("div", { class: "table-scroll" }, table));
}
