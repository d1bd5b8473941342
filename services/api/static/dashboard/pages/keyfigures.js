/* Key figures (§ 48a SGB II): K1, K1E2, K2, K3 as monthly series of a jobcenter (against its
   Land, Germany and its comparison type's median and quartiles), of a Land (against Germany,
   with a sortable table of its jobcenters) or of Germany (with the jobcenters of a type).
   Route #/kennzahlen/<jobcenter id | DE-XX | nothing for Germany>?aufteilung=&code=&monat=&typ=. */

import { apiAll, claims, jobcenters, query } from "../api.js";
import { BREAKDOWN, indicatorName, landName, monthName, pct } from "../de.js";
import { chartBox, empty, h, select, show } from "../dom.js";
import { href, keepParams } from "../nav.js";
import { seriesChart } from "../series.js";
import { sortableTable } from "../table.js";

export const CODES = ["k1", "k1e2", "k2", "k3"];
/** Which direction is better (events/indicators.py). */
const BETTER = { k1: "lower", k1e2: "lower", k2: "higher", k3: "lower" };
const BETTER_TEXT = { lower: "niedriger ist besser", higher: "höher ist besser" };
export const shortCode = (code) => code.toUpperCase();

export default {
  id: "kennzahlen",
  title: "Kennzahlen",
  roles: ["reader", "auditor"],
  render,
};

const isLand = (arg) => /^DE-[A-Z]{2}$/.test(arg);

async function render(main, arg, params) {
  const scope = claims();
  if (!arg && !scope.federal) {  // a Land's reader lands in its Land, a jobcenter's on it
    arg = scope.lands[0] || scope.jobcenters[0];
    history.replaceState(null, "", location.pathname + location.search + href("kennzahlen", arg, params));
  }
  const state = { aufteilung: "total", ...params };
  const centres = await jobcenters();
  const breakdownSelect = select("kf-breakdown", "Aufteilung", Object.entries(BREAKDOWN), state.aufteilung,
    (event) => { state.aufteilung = event.target.value; keepParams(state); render(main, arg, state); });
  if (!arg) return renderGermany(main, scope, centres, state, breakdownSelect);
  if (isLand(arg)) return renderLand(main, arg, scope, centres, state, breakdownSelect);
  return renderJobcenter(main, arg, scope, centres, state, breakdownSelect);
}

/** Rows of a level, by code: {code: [row, ...]} in period order. */
async function seriesOf(params) {
  const rows = await apiAll("/key-figures" + query(params));
  const byCode = {};
  for (const row of rows) (byCode[row.code] ||= []).push(row);
  for (const list of Object.values(byCode)) list.sort((a, b) => a.period.localeCompare(b.period));
  return byCode;
}

const points = (rows) => (rows || []).map((r) => ({ period: r.period, value: r.value, row: r }));

function breadcrumbs(...links) {
  return h("nav", { class: "crumbs", "aria-label": "Ebenen" }, links.flatMap(([text, to], i) =>
    [i ? " › " : null, to ? h("a", { href: to }, text) : h("span", { "aria-current": "page" }, text)]));
}

function scopeHint(scope, centres) {
  const links = [...scope.lands.map((l) => [landName(l), href("kennzahlen", l)]),
    ...scope.jobcenters.map((id) => [centres[id] ? centres[id].name : "Ihr Jobcenter", href("kennzahlen", id)])];
  return h("p", { class: "muted" }, "Ihr Bereich: ", links.flatMap(([text, to], i) => [i ? ", " : null, h("a", { href: to }, text)]));
}

function missingCodes(byCode, where) {
  const absent = CODES.filter((c) => !(byCode[c] || []).length);
  if (!absent.length) return null;
  return h("p", { class: "muted", id: "kf-missing" },
    `Keine Werte ${where} für ${absent.map(shortCode).join(", ")}: die Basisreihen, aus denen sie berechnet werden, liegen (noch) nicht vor.`);
}

/** Why a comparison line is missing: the caller may not see the sums of a Land or Germany. */
function hiddenNote(levels) {
  const hidden = Object.entries(levels).filter(([, byCode]) => !Object.keys(byCode).length).map(([name]) => name);
  if (!hidden.length) return null;
  return h("p", { class: "muted", id: "kf-no-land" }, `Die Werte von ${hidden.join(" und von ")} sind mit Ihrem Zugang nicht sichtbar: `,
    "sie summieren auch Jobcenter außerhalb Ihres Bereichs.");
}

/** One key figure's card: chart, legend, the latest month in words, every month in a table. */
function card(code, subject, others, band) {
  const latest = subject.points[subject.points.length - 1];
  const at = (line) => line.points.find((p) => p.period === latest.period);
  const comparison = latest.row.comparison;
  const legend = h("div", { class: "legend kf-legend" },
    [subject, ...others].filter((l) => l.points.length).map((l) => h("span", { class: l.cls }, l.name)),
    band && band.points.length ? h("span", { class: "band" }, band.name) : null);
  const facts = h("p", { class: "facts", "data-code": code },
    `${monthName(latest.period)}: `, h("b", { class: "latest", "data-value": latest.value }, pct(latest.value)),
    others.filter((l) => l.cls !== "median" && at(l)).map((l) => [" · ", `${l.name} `, h("b", { "data-series": l.cls, "data-value": at(l).value }, pct(at(l).value))]),
    comparison ? [" · ", comparisonText(comparison)] : null);
  const label = `${indicatorName(code)}: ${subject.name} je Monat in Prozent` +
    (others.length ? `, mit ${others.filter((l) => l.points.length).map((l) => l.name).join(", ")}` : "");
  const rows = subject.points.slice().reverse();
  const table = h("details", { class: "months" }, h("summary", {}, "Alle Monatswerte als Tabelle"),
    h("div", { class: "table-scroll" }, h("table", { class: "kf-months" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Monat"), h("th", { scope: "col", class: "num" }, subject.name),
        others.map((l) => h("th", { scope: "col", class: "num" }, l.name)),
        band ? [h("th", { scope: "col", class: "num" }, "Quartile des Typs"), h("th", { scope: "col", class: "num" }, "Rang im Typ")] : null)),
      h("tbody", {}, rows.map((p) => h("tr", { "data-period": p.period },
        h("th", { scope: "row" }, monthName(p.period)), h("td", { class: "num" }, pct(p.value)),
        others.map((l) => { const o = l.points.find((q) => q.period === p.period); return h("td", { class: "num" }, o ? pct(o.value) : "–"); }),
        band ? [h("td", { class: "num" }, p.row.comparison ? `${pct(p.row.comparison.lower_quartile)} – ${pct(p.row.comparison.upper_quartile)}` : "–"),
          h("td", { class: "num" }, p.row.comparison && p.row.comparison.rank ? `${p.row.comparison.rank} von ${p.row.comparison.jobcenters}` : "–")] : null))))));
  return h("section", { class: "card kf-card", "data-code": code },
    h("h2", {}, indicatorName(code), " ", h("span", { class: "muted better" }, `(${BETTER_TEXT[BETTER[code]]})`)),
    facts, chartBox(seriesChart(label, [subject, ...others], band)), legend, table);
}

function comparisonText(c) {
  return h("span", { class: "comparison" }, `Vergleichstyp ${c.type_code}: Median `,
    h("b", { "data-value": c.median }, pct(c.median)),
    `, mittlere Hälfte ${pct(c.lower_quartile)} bis ${pct(c.upper_quartile)}`,
    c.rank ? [", Rang ", h("b", { class: "rank", "data-rank": c.rank }, `${c.rank} von ${c.jobcenters}`)] : `, ${c.jobcenters} Jobcenter`);
}

async function renderJobcenter(main, id, scope, centres, state, breakdownSelect) {
  const centre = centres[id];
  if (!centre) {
    show(main, h("h1", {}, "Kennzahlen"), empty("kf-empty", "Dieses Jobcenter gibt es nicht oder es liegt außerhalb Ihres Bereichs."), scopeHint(scope, centres));
    return;
  }
  const b = state.aufteilung;
  const [own, land, germany] = await Promise.all([
    seriesOf({ jobcenter_id: id, breakdown: b, compare: "type", sources: "false" }),
    seriesOf({ level: "land", land: centre.land, breakdown: b }),
    seriesOf({ level: "germany", breakdown: b })]);
  const cards = CODES.filter((c) => (own[c] || []).length).map((code) => {
    const rows = own[code];
    const typed = rows.filter((r) => r.comparison);
    const typeName = typed.length ? `Vergleichstyp ${typed[typed.length - 1].comparison.type_code}` : null;
    return card(code, { name: centre.name, cls: "subject", points: points(rows) }, [
      { name: landName(centre.land), cls: "land", points: points(land[code]) },
      { name: "Deutschland", cls: "germany", points: points(germany[code]) },
      { name: `Median ${typeName || "des Typs"}`, cls: "median", points: typed.map((r) => ({ period: r.period, value: r.comparison.median, row: r })) },
    ], typed.length ? { name: `Quartile ${typeName} (mittlere Hälfte)`, points: typed.map((r) => ({ period: r.period, low: r.comparison.lower_quartile, high: r.comparison.upper_quartile })) } : null);
  });
  const type = Object.values(own).flat().find((r) => r.comparison);
  show(main,
    breadcrumbs(...(scope.federal ? [["Deutschland", href("kennzahlen")]] : []),
      ...(scope.federal || scope.lands.includes(centre.land) ? [[landName(centre.land), href("kennzahlen", centre.land)]] : []), [centre.name]),
    h("h1", {}, `Kennzahlen: ${centre.name}`),
    h("p", { class: "muted" }, `${landName(centre.land)} (${centre.land})`,
      type ? ` · Vergleichstyp ${type.comparison.type_code}: ${type.comparison.type_name}` : " · kein Vergleichstyp zugeordnet"),
    h("div", { class: "filters" }, breakdownSelect),
    cards.length ? cards : empty("kf-empty", `Für ${centre.name} liegen noch keine Kennzahlen vor: es fehlen die Basisreihen, aus denen sie berechnet werden.`),
    cards.length ? missingCodes(own, "für dieses Jobcenter") : null,
    hiddenNote({ [landName(centre.land)]: land, Deutschland: germany }));
}

async function renderLand(main, code, scope, centres, state, breakdownSelect) {
  const b = state.aufteilung;
  const [land, germany] = await Promise.all([
    seriesOf({ level: "land", land: code, breakdown: b }), seriesOf({ level: "germany", breakdown: b })]);
  const heading = [breadcrumbs(...(scope.federal ? [["Deutschland", href("kennzahlen")]] : []), [landName(code)]),
    h("h1", {}, `Kennzahlen: ${landName(code)} (${code})`), h("p", { class: "muted" }, h("a", { href: href("laender", code) }, `Zielvereinbarungen und Zielerreichung in ${landName(code)}`))];
  if (!Object.keys(land).length) {
    const outside = !scope.federal && !scope.lands.includes(code);
    show(main, heading, empty("kf-empty", outside ? `${landName(code)} liegt außerhalb Ihres Bereichs.`
      : `Für ${landName(code)} liegen noch keine Kennzahlen vor: es fehlen die Basisreihen der Jobcenter.`), outside ? scopeHint(scope, centres) : null);
    return;
  }
  const cards = CODES.filter((c) => (land[c] || []).length).map((c) => card(c,
    { name: landName(code), cls: "subject", points: points(land[c]) },
    [{ name: "Deutschland", cls: "germany", points: points(germany[c]) }], null));
  const table = h("section", { id: "kf-table-section" });
  show(main, ...heading, h("div", { class: "filters" }, breakdownSelect), cards, missingCodes(land, `für ${landName(code)}`),
    hiddenNote({ Deutschland: germany }), table);
  await jobcenterTable(table, state, land, centres, { land: code }, `Jobcenter in ${landName(code)}`);
}

async function renderGermany(main, scope, centres, state, breakdownSelect) {
  const germany = await seriesOf({ level: "germany", breakdown: state.aufteilung });
  const heading = h("h1", {}, "Kennzahlen: Deutschland");
  if (!Object.keys(germany).length) {
    show(main, heading, empty("kf-empty", "Für Deutschland liegen noch keine Kennzahlen vor: es fehlen die Basisreihen der Jobcenter."));
    return;
  }
  const cards = CODES.filter((c) => (germany[c] || []).length).map((c) =>
    card(c, { name: "Deutschland", cls: "subject", points: points(germany[c]) }, [], null));
  const table = h("section", { id: "kf-table-section" });
  show(main, heading, h("div", { class: "filters" }, breakdownSelect), cards, missingCodes(germany, "für Deutschland"), table);
  await jobcenterTable(table, state, germany, centres, {}, "Jobcenter eines Vergleichstyps");
}

/** The sortable table of every jobcenter of a Land (or, for Germany, of one comparison type)
    for one key figure and month: value, type, type median, rank in type. */
async function jobcenterTable(section, state, series, centres, filter, title) {
  const codes = CODES.filter((c) => (series[c] || []).length);
  if (!codes.includes(state.code)) state.code = codes.includes("k2") ? "k2" : codes[0];
  const months = series[state.code].map((r) => r.period).reverse();
  if (!months.includes(state.monat)) state.monat = months[0];
  keepParams(state);
  const redraw = (key) => (event) => { state[key] = event.target.value; if (key === "code") delete state.monat; jobcenterTable(section, state, series, centres, filter, title); };
  show(section, h("h2", {}, `${title}: ${shortCode(state.code)}, ${monthName(state.monat)}`), h("p", { class: "muted" }, "Lade …"));
  const rows = await apiAll("/key-figures" + query({ ...filter, code: state.code, breakdown: state.aufteilung, period: state.monat, compare: "type", sources: "false" }));
  const types = [...new Map(rows.filter((r) => r.comparison).map((r) => [r.comparison.type_code, r.comparison.type_name]))].sort();
  if (!filter.land && !types.some(([t]) => t === state.typ)) state.typ = types.length ? types[0][0] : "";
  keepParams(state);
  const shown = filter.land ? rows : rows.filter((r) => r.comparison && r.comparison.type_code === state.typ);
  const name = (r) => (centres[r.jobcenter_id] ? centres[r.jobcenter_id].name : "unbekanntes Jobcenter");
  const controls = h("div", { class: "filters" },
    select("kf-code", "Kennzahl", codes.map((c) => [c, indicatorName(c)]), state.code, redraw("code")),
    select("kf-month", "Monat", months.map((m) => [m, monthName(m)]), state.monat, redraw("monat")),
    filter.land ? null : select("kf-type", "Vergleichstyp", types.map(([t, n]) => [t, `${t}: ${n}`]), state.typ, redraw("typ")));
  const better = BETTER[state.code];
  const columns = [
    { key: "name", label: "Jobcenter", value: name, cell: (r) => h("td", {}, h("a", { href: href("kennzahlen", r.jobcenter_id) }, name(r))) },
    ...(filter.land ? [] : [{ key: "land", label: "Land", value: (r) => landName(r.land), cell: (r) => h("td", {}, landName(r.land)) }]),
    { key: "value", label: "Wert", num: true, value: (r) => Number(r.value), cell: (r) => h("td", { class: "num value", "data-value": r.value }, pct(r.value)) },
    ...(filter.land ? [{ key: "type", label: "Vergleichstyp", value: (r) => (r.comparison ? r.comparison.type_code : null),
      cell: (r) => h("td", { title: r.comparison ? r.comparison.type_name : "" }, r.comparison ? r.comparison.type_code : "kein Typ") }] : []),
    { key: "median", label: "Median des Typs", num: true, value: (r) => (r.comparison ? Number(r.comparison.median) : null),
      cell: (r) => h("td", { class: "num" }, r.comparison ? pct(r.comparison.median) : "–") },
    { key: "rank", label: "Rang im Typ", num: true, value: (r) => (r.comparison ? r.comparison.rank : null),
      cell: (r) => h("td", { class: "num rank", "data-rank": r.comparison ? r.comparison.rank ?? "" : "" },
        r.comparison && r.comparison.rank ? `${r.comparison.rank} von ${r.comparison.jobcenters}` : "–") },
  ];
  const sort = { key: state.sort || "rank", dir: state.richtung || "ascending" };
  show(section, h("h2", {}, `${title}: ${shortCode(state.code)}, ${monthName(state.monat)}`), controls,
    h("p", { class: "muted" }, `Rang 1 ist der beste Wert im Vergleichstyp (${BETTER_TEXT[better]}). Zum Sortieren die Spaltenköpfe wählen.`),
    shown.length ? h("div", { class: "table-scroll" }, sortableTable({
      id: "kf-jobcenters", caption: `${title}, ${indicatorName(state.code)}, ${monthName(state.monat)}`, columns, rows: shown, sort,
      rowKey: (r) => r.jobcenter_id, onsort: (s) => { state.sort = s.key; state.richtung = s.dir; keepParams(state); } }))
      : empty("kf-table-empty", "Für diesen Monat liegen keine Werte von Jobcentern vor."));
}
