/* Zielsteuerung dashboard: reads only the query API; no build step, no external assets.
   Pages (hash routes): #/portfolio, #/agreement/<id>, #/timetravel/<id>, #/compare, #/rejections.
   A bearer token given once as ?token=... is kept in sessionStorage and sent with every call. */
"use strict";

const TOKEN_KEY = "zs-token";
const SVG_NS = "http://www.w3.org/2000/svg";

const STATUS = {
  achieved: "erreicht", missed: "verfehlt", on_track: "auf Kurs", at_risk: "gefährdet",
  no_data: "keine Daten",
};
const LAND = {
  "DE-BW": "Baden-Württemberg", "DE-BY": "Bayern", "DE-BE": "Berlin", "DE-BB": "Brandenburg",
  "DE-HB": "Bremen", "DE-HH": "Hamburg", "DE-HE": "Hessen", "DE-MV": "Mecklenburg-Vorpommern",
  "DE-NI": "Niedersachsen", "DE-NW": "Nordrhein-Westfalen", "DE-RP": "Rheinland-Pfalz",
  "DE-SL": "Saarland", "DE-SN": "Sachsen", "DE-ST": "Sachsen-Anhalt",
  "DE-SH": "Schleswig-Holstein", "DE-TH": "Thüringen",
};
const INDICATOR = {
  integrations: "Integrationen", ltb_stock: "Bestand Langzeitleistungsbeziehende",
  continuous_employment: "Kontinuierliche Beschäftigung",
  u25_training_integrations: "Integrationen U25 in Ausbildung",
};
const BREAKDOWN = { total: "insgesamt", women: "Frauen", men: "Männer" };
const EVENT = {
  MonthlyFigureReported: "Monatswert gemeldet", MonthlyFigureCorrected: "Monatswert korrigiert",
  TargetSet: "Ziel gesetzt", TargetAmended: "Zielwert geändert", TargetWithdrawn: "Ziel zurückgezogen",
  AgreementClosed: "Zielvereinbarung abgeschlossen", BudgetAllocated: "Haushalt zugewiesen",
  BudgetDeviationRecorded: "Haushaltsabweichung", AgreementConcluded: "Zielvereinbarung geschlossen",
};
const FIELD = {
  target_value: "Zielwert", actual: "Ist", months_reported: "Monate gemeldet",
  expected_to_date: "Erwartet bis dato", forecast: "Prognose", attainment_pct: "Zielerreichung",
  status: "Status", final: "endgültig", revised_after_close: "nach Abschluss revidiert",
};
const MONTHS = ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"];

/* ---------- token, API, formatting ---------- */

(function keepToken() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    params.delete("token");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }
})();

async function api(path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const error = body && body.error;
    throw new Error(error ? `${error.code}: ${error.message}` : `HTTP ${response.status} für ${path}`);
  }
  const position = response.headers.get("X-Position");
  if (position !== null) showPosition(position);
  return body;
}

/** Every item of a list endpoint (pages of 1,000). */
async function apiAll(path) {
  const items = [];
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`${path}${sep}limit=1000&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.count || page.items.length === 0) return items;
  }
}

function query(params) {
  const kept = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
}

function showPosition(position) {
  document.getElementById("position").textContent = `Position ${position}`;
}

function num(value, digits = 2) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("de-DE", { maximumFractionDigits: digits });
}
function pct(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("de-DE", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " %";
}
function withUnit(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "percent") return num(value) + " %";
  if (unit === "eur") return num(value) + " €";
  return num(value);
}
function euro(value) { return value === null || value === undefined ? "–" : num(value) + " €"; }
function when(iso) { return iso ? new Date(iso).toLocaleString("de-DE") : "–"; }
function day(iso) { return iso ? new Date(iso + "T00:00:00").toLocaleDateString("de-DE") : "–"; }
function indicatorName(slug) { return INDICATOR[slug] || slug; }
function landName(code) { return code ? `${LAND[code] || code}` : "ohne Land"; }

/* ---------- DOM helpers ---------- */

function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}
function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}
function setAttrs(element, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
}
function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}
function statusBadge(status) {
  return h("span", { class: `status ${status}`, "data-status": status }, STATUS[status] || status);
}
function cellNum(text, value, cls = "") {
  return h("td", { class: `num ${cls}`, "data-value": value === null || value === undefined ? "" : value }, text);
}
function select(id, label, options, value, onchange) {
  const element = h("select", { id, onchange },
    options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) }, text)));
  return h("label", { for: id }, label, element);
}
function errorBox(error) { return h("div", { class: "error" }, `Fehler: ${error.message}`); }

/* ---------- portfolio ---------- */

const portfolioFilters = { land: "", year: "", indicator: "", status: "" };

async function renderPortfolio(main) {
  const [everything, jobcenters] = await Promise.all([apiAll("/attainment"), jobcenterNames()]);
  const distinct = (key) => [...new Set(everything.map((row) => row[key]).filter((v) => v !== null))].sort();
  const filterBar = h("div", { class: "filters" },
    select("f-land", "Land", [["", "alle Länder"], ...distinct("land").map((l) => [l, landName(l)])],
      portfolioFilters.land, (e) => { portfolioFilters.land = e.target.value; refresh(); }),
    select("f-year", "Jahr", [["", "alle Jahre"], ...distinct("year").map((y) => [y, y])],
      portfolioFilters.year, (e) => { portfolioFilters.year = e.target.value; refresh(); }),
    select("f-indicator", "Indikator",
      [["", "alle Indikatoren"], ...distinct("indicator").map((i) => [i, indicatorName(i)])],
      portfolioFilters.indicator, (e) => { portfolioFilters.indicator = e.target.value; refresh(); }),
    select("f-status", "Status",
      [["", "alle"], ...Object.entries(STATUS)], portfolioFilters.status,
      (e) => { portfolioFilters.status = e.target.value; refresh(); }),
    h("a", { href: "/attainment" + query({ ...portfolioFilters, format: "csv" }), id: "portfolio-csv" }, "CSV"),
  );
  const results = h("div", { id: "portfolio-results" });
  main.replaceChildren(h("h1", {}, "Portfolio: Zielerreichung je Land und Jahr"), filterBar, results);

  async function refresh() {
    document.getElementById("portfolio-csv").href = "/attainment" + query({ ...portfolioFilters, format: "csv" });
    try {
      const rows = await apiAll("/attainment" + query(portfolioFilters));
      results.replaceChildren(portfolioTables(rows, jobcenters));
    } catch (error) { results.replaceChildren(errorBox(error)); }
  }
  await refresh();
}

function portfolioTables(rows, jobcenters) {
  if (!rows.length) return h("p", { class: "muted", id: "portfolio-empty" }, "Keine Ziele für diese Auswahl.");
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.land}|${row.year}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  const sections = [];
  for (const [key, group] of [...groups].sort()) {
    const [land, year] = key.split("|");
    const body = h("tbody");
    let agreement = null;
    for (const row of group) {
      if (row.agreement_id !== agreement) {
        agreement = row.agreement_id;
        body.append(h("tr", { class: "agreement-row" }, h("td", { colspan: 10 },
          h("a", { href: `#/agreement/${row.agreement_id}` }, `Zielvereinbarung ${row.agreement_id}`),
          ` · Jobcenter ${jobcenters[row.jobcenter_id] || row.jobcenter_id}`)));
      }
      body.append(h("tr", { "data-agreement": row.agreement_id, "data-target": row.target_id, class: "target-row" },
        h("td", {}, row.label || row.target_id, h("div", { class: "muted mono" }, row.target_id)),
        h("td", {}, indicatorName(row.indicator)),
        h("td", {}, BREAKDOWN[row.breakdown] || row.breakdown),
        cellNum(withUnit(row.target_value, row.unit), row.target_value, "target-value"),
        cellNum(withUnit(row.actual, row.unit), row.actual, "actual"),
        cellNum(withUnit(row.forecast, row.unit), row.forecast, "forecast"),
        cellNum(pct(row.attainment_pct), row.attainment_pct, "attainment"),
        h("td", {}, attainmentBar(row.attainment_pct, row.status)),
        h("td", {}, statusBadge(row.status)),
        h("td", {}, row.final ? "endgültig" : `${row.months_reported} von 12 Monaten`)));
    }
    sections.push(h("section", { class: "group", "data-land": land, "data-year": year },
      h("h2", {}, `${landName(land === "null" ? null : land)} · ${year}`),
      h("table", {},
        h("thead", {}, h("tr", {},
          h("th", {}, "Ziel"), h("th", {}, "Indikator"), h("th", {}, "Aufteilung"),
          h("th", { class: "num" }, "Zielwert"), h("th", { class: "num" }, "Ist"),
          h("th", { class: "num" }, "Prognose"), h("th", { class: "num" }, "Zielerreichung"),
          h("th", {}, ""), h("th", {}, "Status"), h("th", {}, "Stand"))),
        body)));
  }
  return h("div", {}, sections);
}

/** A small horizontal bar: attainment up to 120 %, a mark at 100 %. */
function attainmentBar(value, status) {
  const width = 120, height = 12;
  const svg = s("svg", { width, height, class: "mini-bar", role: "img", "aria-label": pct(value) });
  svg.append(s("rect", { x: 0, y: 2, width, height: 8, fill: "#eef2f6" }));
  if (value !== null && value !== undefined) {
    const w = Math.max(0, Math.min(120, Number(value))) / 120 * width;
    svg.append(s("rect", { x: 0, y: 2, width: w, height: 8, class: `bar ${status}` }));
  }
  svg.append(s("line", { x1: 100, x2: 100, y1: 0, y2: height, class: "hundred" }));
  return svg;
}

let jobcenterCache = null;
async function jobcenterNames() {
  if (!jobcenterCache) {
    const items = await apiAll("/jobcenters");
    jobcenterCache = Object.fromEntries(items.map((j) => [j.jobcenter_id, j.name]));
    jobcenterCache.__land = Object.fromEntries(items.map((j) => [j.jobcenter_id, j.land]));
  }
  return jobcenterCache;
}

/* ---------- agreement ---------- */

async function renderAgreementList(main, page) {
  const [agreements, jobcenters] = await Promise.all([apiAll("/agreements"), jobcenterNames()]);
  main.replaceChildren(
    h("h1", {}, page === "timetravel" ? "Zeitreise: Zielvereinbarung wählen" : "Zielvereinbarungen"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Zielvereinbarung"), h("th", {}, "Jobcenter"),
      h("th", {}, "Land"), h("th", {}, "Jahr"), h("th", {}, "Status"))),
    h("tbody", {}, agreements.map((a) => h("tr", {},
      h("td", {}, h("a", { href: `#/${page}/${a.agreement_id}` }, a.agreement_id)),
      h("td", {}, jobcenters[a.jobcenter_id] || a.jobcenter_id), h("td", {}, landName(a.land)),
      h("td", {}, a.year), h("td", {}, a.status === "closed" ? `abgeschlossen (${day(a.closed_on)})` : "offen"))))));
}

async function renderAgreement(main, id) {
  const [agreement, result, jobcenters] = await Promise.all([
    api(`/agreements/${encodeURIComponent(id)}`),
    api(`/agreements/${encodeURIComponent(id)}/attainment`),
    jobcenterNames(),
  ]);
  const figuresByIndicator = {};
  for (const indicator of new Set(result.targets.map((t) => t.indicator))) {
    figuresByIndicator[indicator] = await apiAll("/figures" + query({
      jobcenter_id: agreement.jobcenter_id, indicator, year: agreement.year }));
  }
  const definitions = Object.fromEntries(agreement.targets.map((t) => [t.target_id, t]));
  const cards = result.targets.map((target) => targetCard(
    target, definitions[target.target_id], agreement.year,
    figuresByIndicator[target.indicator].filter((f) => f.breakdown === target.breakdown)));
  main.replaceChildren(
    h("h1", {}, `Zielvereinbarung ${agreement.agreement_id}`),
    h("div", { class: "card" },
      agreement.title ? h("p", {}, agreement.title) : null,
      h("p", {}, `Jobcenter ${jobcenters[agreement.jobcenter_id] || agreement.jobcenter_id} · `,
        `Land ${landName(agreement.land)} · Jahr ${agreement.year} · `,
        agreement.status === "closed" ? `abgeschlossen am ${day(agreement.closed_on)}` : "offen"),
      h("p", { class: "muted" }, "Partner: ", agreement.parties.join("; ")),
      h("p", {}, h("a", { href: `#/timetravel/${agreement.agreement_id}` }, "Zeitreise: Stand zu einem früheren Zeitpunkt"),
        " · ", h("a", { href: `/agreements/${agreement.agreement_id}/attainment?format=csv` }, "Zielerreichung als CSV"))),
    h("h2", {}, "Ziele: Jahresverlauf"),
    cards.length === 0 ? null : h("div", { class: "legend" },
      h("span", { class: "actual" }, "Ist (kumuliert bzw. Monatswert)"),
      h("span", { class: "expected" }, "Erwarteter Verlauf / Zielwert"),
      h("span", { class: "forecast" }, "Prognose"),
      h("span", { class: "correction" }, "korrigierter Monatswert"),
      h("span", { class: "amendment" }, "Zieländerung")),
    cards.length ? h("div", { class: "targets" }, cards)
      : h("p", { class: "muted", id: "no-targets" }, "Diese Zielvereinbarung enthält keine quantitativen Ziele."),
    h("div", { class: "cols" },
      h("div", {}, h("h2", {}, "Haushalt"), budgetTable(agreement.budget_lines)),
      h("div", {}, h("h2", {}, "Zieldialoge"), dialogList(agreement.dialogs))),
    h("h2", {}, "Qualitative Ziele und Unterstützung durch das Land"), goalList(agreement.goals));
}

function targetCard(target, definition, year, figures) {
  const amendments = definition ? definition.amendments : [];
  const corrections = figures.filter((f) => f.revision_count > 0).length;
  return h("div", { class: "card target-card", "data-target": target.target_id },
    h("h3", {}, target.label || target.target_id,
      target.breakdown !== "total" ? ` (${BREAKDOWN[target.breakdown] || target.breakdown})` : "", " ",
      statusBadge(target.status)),
    h("div", { class: "facts" },
      h("span", {}, "Zielwert ", h("b", { class: "target-value", "data-value": target.target_value }, withUnit(target.target_value, target.unit))),
      h("span", {}, "Ist ", h("b", { class: "actual", "data-value": target.actual }, withUnit(target.actual, target.unit))),
      h("span", {}, "Prognose ", h("b", { class: "forecast", "data-value": target.forecast }, withUnit(target.forecast, target.unit))),
      h("span", {}, "Zielerreichung ", h("b", { class: "attainment", "data-value": target.attainment_pct }, pct(target.attainment_pct))),
      h("span", { class: "muted" }, `${target.comparator === "at_most" ? "höchstens" : "mindestens"} · ${target.aggregation} · ${target.months_reported} ${target.months_reported === 1 ? "Monat" : "Monate"}`),
      corrections ? h("span", { class: "muted corrections" }, corrections === 1 ? "1 korrigierter Monat" : `${corrections} korrigierte Monate`) : null),
    trajectoryChart(target, figures, amendments, year),
    amendments.length ? h("ul", { class: "plain amendments" }, amendments.map((a) =>
      h("li", {}, `Änderung ab ${day(a.effective_from)}: Zielwert ${num(a.value)} (vereinbart ${num(definition.agreed_value)}) – ${a.reason}`))) : null);
}

/** Monthly trajectory: cumulative actual against the expected path and the forecast for `sum`
    targets; monthly values against the target line otherwise. */
function trajectoryChart(target, figures, amendments, year) {
  const W = 540, H = 230, L = 56, R = 16, T = 14, B = 30;
  const byMonth = new Map(figures.map((f) => [Number(f.period.slice(5, 7)), f]));
  const cumulative = target.aggregation === "sum";
  const points = [];
  let running = 0;
  for (let month = 1; month <= 12; month++) {
    const figure = byMonth.get(month);
    if (!figure) continue;
    running += Number(figure.value);
    // cumulative values stand at the month's end, monthly values in its middle
    points.push({ month: cumulative ? month : month - 0.5, value: cumulative ? running : Number(figure.value), figure });
  }
  const goal = Number(target.target_value);
  const values = [...points.map((p) => p.value), goal, Number(target.forecast ?? 0)].filter(Number.isFinite);
  let top = Math.max(...values), bottom = cumulative ? 0 : Math.min(...values);
  if (!cumulative) { const pad = (top - bottom) * 0.15 || Math.abs(top) * 0.05 || 1; top += pad; bottom -= pad; }
  else top *= 1.08;
  const x = (m) => L + (m / 12) * (W - L - R);
  const y = (v) => T + (1 - (v - bottom) / (top - bottom || 1)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", class: "trajectory", role: "img",
    "aria-label": `Verlauf ${target.target_id}` });
  const digits = top - bottom < 4 ? 2 : top - bottom < 40 ? 1 : 0;
  for (let i = 0; i <= 4; i++) {
    const v = bottom + (top - bottom) * i / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, num(v, digits)));
  }
  for (let m = 1; m <= 12; m++) {
    svg.append(s("text", { x: x(m) - (W - L - R) / 24, y: H - 10, "text-anchor": "middle" }, MONTHS[m - 1]));
  }
  svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  if (cumulative) {
    svg.append(s("line", { x1: x(0), y1: y(0), x2: x(12), y2: y(goal), class: "expected" }));
  } else {
    svg.append(s("line", { x1: x(0), x2: x(12), y1: y(goal), y2: y(goal), class: "target-line" }));
  }
  if (points.length) {
    const path = (cumulative ? [{ month: 0, value: 0 }, ...points] : points)
      .map((p, i) => `${i ? "L" : "M"}${x(p.month).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
    svg.append(s("path", { d: path, class: "actual" }));
    const lastPoint = points[points.length - 1];
    if (target.forecast !== null && target.forecast !== undefined && !target.final) {
      // sum: the year's total at the current pace; otherwise the year's value so far, carried on
      const start = cumulative ? lastPoint : { month: lastPoint.month, value: Number(target.forecast) };
      svg.append(s("line", { x1: x(start.month), y1: y(start.value), x2: x(12), y2: y(Number(target.forecast)), class: "forecast" }));
    }
    for (const p of points) {
      const corrected = p.figure.revision_count > 0;
      const circle = s("circle", { cx: x(p.month), cy: y(p.value), r: corrected ? 4.5 : 3,
        class: corrected ? "point corrected" : "point", "data-period": p.figure.period,
        "data-revisions": p.figure.revision_count });
      circle.append(s("title", {}, `${p.figure.period}: Monatswert ${num(p.figure.value)}` +
        (cumulative ? `, kumuliert ${num(p.value)}` : "") +
        (corrected ? ` (korrigiert, ${p.figure.revision_count}×)` : "")));
      svg.append(circle);
    }
  }
  for (const amendment of amendments || []) {
    const date = new Date(amendment.effective_from + "T00:00:00");
    if (date.getFullYear() !== year) continue;
    const m = date.getMonth() + (date.getDate() - 1) / 31;
    svg.append(s("line", { x1: x(m), x2: x(m), y1: T, y2: H - B, class: "amendment-line" }),
      s("text", { x: x(m) + 3, y: T + 10, fill: "#6b3fa0" }, "Zieländerung"));
  }
  return svg;
}

function budgetTable(lines) {
  if (!lines.length) return h("p", { class: "muted" }, "Keine Haushaltslinien.");
  return h("table", { id: "budget" },
    h("thead", {}, h("tr", {}, h("th", {}, "Haushaltslinie"), h("th", { class: "num" }, "zugewiesen"),
      h("th", {}, "Abweichungen"), h("th", { class: "num" }, "aktuell"))),
    h("tbody", {}, lines.map((line) => h("tr", { "data-budget-line": line.budget_line },
      h("td", {}, line.budget_line, line.measures.length ? h("div", { class: "muted" }, `${line.measures.length} Maßnahmen`) : null),
      cellNum(euro(line.allocated), line.allocated),
      h("td", {}, line.deviations.length ? h("ul", { class: "plain" }, line.deviations.map((d) =>
        h("li", { class: "deviation" }, `${d.period}: ${d.amount_eur > 0 ? "+" : ""}${euro(d.amount_eur)} – ${d.reason}`)))
        : h("span", { class: "muted" }, "keine")),
      cellNum(euro(line.current), line.current, "current")))));
}

function dialogList(dialogs) {
  if (!dialogs.length) return h("p", { class: "muted" }, "Noch kein Zieldialog erfasst.");
  return h("ul", { class: "plain", id: "dialogs" }, dialogs.map((d) =>
    h("li", {}, h("b", {}, `Zieldialog ${day(d.held_on)}: `), d.summary)));
}

function goalList(goals) {
  if (!goals.length) return h("p", { class: "muted" }, "Keine qualitativen Ziele.");
  return h("div", { id: "goals" }, goals.map((g) => h("div", { class: "card goal" },
    h("h3", {}, g.section), h("p", {}, g.text),
    g.state_support.length ? h("div", {}, h("b", {}, "Unterstützung durch das Land:"),
      h("ul", { class: "plain" }, g.state_support.map((x) => h("li", {}, x))))
      : h("p", { class: "muted" }, "Keine Unterstützung des Landes genannt."))));
}

/* ---------- time travel ---------- */

async function renderTimeTravel(main, id) {
  const [health, current] = await Promise.all([api("/health"), api(`/agreements/${encodeURIComponent(id)}/attainment`)]);
  const head = health.position;
  const range = h("input", { type: "range", id: "tt-range", min: 1, max: head, value: head });
  const number = h("input", { type: "number", id: "tt-position", min: 1, max: head, value: head, style: "width:6rem" });
  const moment = h("input", { type: "datetime-local", id: "tt-time", step: 1 });
  const answer = h("div", { id: "tt-answer" });
  const changes = h("div", { id: "tt-changes" });
  range.addEventListener("input", () => { number.value = range.value; });
  range.addEventListener("change", () => show({ as_of_position: range.value }));
  number.addEventListener("change", () => { range.value = number.value; show({ as_of_position: number.value }); });
  main.replaceChildren(
    h("h1", {}, `Zeitreise: Zielvereinbarung ${id}`),
    h("p", { class: "muted" }, "Wie war der Stand der Zielerreichung bekannt – zu einer Position im Ereignisprotokoll oder zu einem Zeitpunkt (Aufzeichnungszeit)? Darunter die Ereignisse, die das Ergebnis seitdem verändert haben."),
    h("div", { class: "card tt-controls" },
      h("label", {}, "Position", range), h("label", {}, "", number),
      h("label", {}, "oder Zeitpunkt", moment),
      h("button", { id: "tt-apply-time", onclick: () => moment.value && show({ as_of: new Date(moment.value).toISOString() }) }, "Stand anzeigen"),
      h("button", { class: "secondary", id: "tt-now", onclick: () => { range.value = number.value = head; show({ as_of_position: head }); } }, "Heute"),
      h("a", { href: `#/agreement/${id}` }, "zur Zielvereinbarung")),
    h("h2", { id: "tt-heading" }, ""), answer,
    h("h2", {}, "Änderungen seitdem"), changes);

  async function show(at) {
    try {
      const result = await api(`/agreements/${encodeURIComponent(id)}/attainment` + query(at));
      const position = result.position;
      range.value = number.value = position;
      document.getElementById("tt-heading").textContent = `Stand bei Position ${position}` +
        (at.as_of ? ` (${when(at.as_of)})` : "");
      answer.replaceChildren(asOfTable(result, current));
      const found = await api(`/agreements/${encodeURIComponent(id)}/changes` + query({ from_position: position, to_position: head }));
      changes.replaceChildren(changeTable(found));
    } catch (error) {
      answer.replaceChildren(errorBox(error));
      changes.replaceChildren();
    }
  }
  await show({ as_of_position: head });
}

function asOfTable(result, current) {
  const now = Object.fromEntries(current.targets.map((t) => [t.target_id, t]));
  if (!result.targets.length) return h("p", { class: "muted" }, "Zu diesem Stand gab es keine Ziele.");
  return h("table", { "data-position": result.position },
    h("thead", {}, h("tr", {}, h("th", {}, "Ziel"), h("th", { class: "num" }, "Zielwert"), h("th", { class: "num" }, "Ist"),
      h("th", { class: "num" }, "Monate"), h("th", { class: "num" }, "Prognose"), h("th", { class: "num" }, "Zielerreichung"),
      h("th", {}, "Status"), h("th", { class: "num" }, "heute"))),
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
        cellNum(today ? pct(today.attainment_pct) : "–", today ? today.attainment_pct : null, "today"));
    })));
}

function changeTable(found) {
  if (!found.items.length) return h("p", { class: "muted", id: "tt-no-changes" }, "Seitdem keine Änderung.");
  return h("table", { id: "tt-change-table" },
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Position"), h("th", {}, "aufgezeichnet"),
      h("th", {}, "Ereignis"), h("th", {}, "Ziel"), h("th", {}, "Änderung (alt → neu)"))),
    h("tbody", {}, found.items.map((change) => {
      const old = change.old || {}, now = change.new || {};
      const fields = Object.keys(FIELD).filter((f) => JSON.stringify(old[f]) !== JSON.stringify(now[f]));
      return h("tr", { class: "change", "data-position": change.position },
        cellNum(change.position, change.position), h("td", {}, when(change.recorded_at)),
        h("td", {}, EVENT[change.event_type] || change.event_type), h("td", {}, change.target_id),
        h("td", {}, h("ul", { class: "plain" }, fields.map((f) =>
          h("li", {}, `${FIELD[f]}: ${show(old[f], f)} → ${show(now[f], f)}`)))));
    })));
  function show(value, field) {
    if (value === undefined || value === null) return "–";
    if (field === "status") return STATUS[value] || value;
    if (field === "attainment_pct") return pct(value);
    if (typeof value === "boolean") return value ? "ja" : "nein";
    return num(value);
  }
}

/* ---------- comparison ---------- */

const compareState = { land: "", year: "", indicator: "", breakdown: "total", sort: "value-desc" };

async function renderCompare(main) {
  const [everything, jobcenters] = await Promise.all([apiAll("/attainment"), jobcenterNames()]);
  const lands = [...new Set(everything.map((r) => r.land).filter(Boolean))].sort();
  if (!compareState.land) compareState.land = lands.includes("DE-HE") ? "DE-HE" : lands[0] || "";
  const inLand = () => everything.filter((r) => r.land === compareState.land);
  const years = () => [...new Set(inLand().map((r) => r.year))].sort();
  const indicators = () => [...new Set(inLand().filter((r) => String(r.year) === String(compareState.year)).map((r) => r.indicator))].sort();
  const controls = h("div", { class: "filters" });
  const chart = h("div", { id: "compare-chart", class: "card" });
  main.replaceChildren(h("h1", {}, "Vergleich: ein Indikator über die Jobcenter eines Landes"), controls, chart);

  function fixDefaults() {
    if (!years().map(String).includes(String(compareState.year))) compareState.year = years().slice(-1)[0] || "";
    if (!indicators().includes(compareState.indicator)) {
      compareState.indicator = indicators().includes("integrations") ? "integrations" : indicators()[0] || "";
    }
  }
  function drawControls() {
    fixDefaults();
    const set = (key) => (e) => { compareState[key] = e.target.value; drawControls(); load(); };
    controls.replaceChildren(
      select("c-land", "Land", lands.map((l) => [l, landName(l)]), compareState.land, set("land")),
      select("c-year", "Jahr", years().map((y) => [y, y]), compareState.year, set("year")),
      select("c-indicator", "Indikator", indicators().map((i) => [i, indicatorName(i)]), compareState.indicator, set("indicator")),
      select("c-breakdown", "Aufteilung", Object.entries(BREAKDOWN), compareState.breakdown, set("breakdown")),
      select("c-sort", "Sortierung", [["value-desc", "Zielerreichung absteigend"], ["value-asc", "Zielerreichung aufsteigend"], ["name", "Jobcenter (A–Z)"]],
        compareState.sort, (e) => { compareState.sort = e.target.value; load(); }));
  }
  async function load() {
    try {
      const rows = (await apiAll("/attainment" + query({ land: compareState.land, year: compareState.year, indicator: compareState.indicator })))
        .filter((r) => r.breakdown === compareState.breakdown);
      chart.replaceChildren(compareChart(rows, jobcenters));
    } catch (error) { chart.replaceChildren(errorBox(error)); }
  }
  drawControls();
  await load();
}

function compareChart(rows, jobcenters) {
  if (!rows.length) return h("p", { class: "muted", id: "compare-empty" }, "Keine Ziele für diese Auswahl.");
  const name = (r) => jobcenters[r.jobcenter_id] || r.jobcenter_id;
  const sorted = [...rows].sort(compareState.sort === "name" ? (a, b) => name(a).localeCompare(name(b), "de")
    : (a, b) => (compareState.sort === "value-asc" ? 1 : -1) * ((a.attainment_pct ?? -1) - (b.attainment_pct ?? -1)));
  const W = 900, L = 300, R = 90, bar = 26, gap = 10, T = 24;
  const H = T + sorted.length * (bar + gap) + 24;
  const maximum = Math.max(120, ...sorted.map((r) => Number(r.attainment_pct ?? 0)));
  const x = (v) => L + v / maximum * (W - L - R);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", id: "compare-svg", role: "img", "aria-label": "Zielerreichung je Jobcenter" });
  svg.append(s("text", { x: L, y: 14 }, "Zielerreichung in %"));
  sorted.forEach((r, i) => {
    const top = T + i * (bar + gap);
    const value = r.attainment_pct === null ? 0 : Number(r.attainment_pct);
    const rect = s("rect", { x: L, y: top, width: Math.max(0, x(value) - L), height: bar, class: `bar ${r.status}`,
      "data-jobcenter": r.jobcenter_id, "data-value": r.attainment_pct ?? "" });
    rect.append(s("title", {}, `${name(r)}: ${pct(r.attainment_pct)} (${STATUS[r.status]})`));
    svg.append(s("text", { x: L - 8, y: top + bar / 2 + 4, "text-anchor": "end", class: "bar-label" }, `${name(r)} (${r.agreement_id})`),
      rect, s("text", { x: x(value) + 6, y: top + bar / 2 + 4, class: "bar-value" }, `${pct(r.attainment_pct)} · ${STATUS[r.status]}`));
  });
  svg.append(s("line", { x1: x(100), x2: x(100), y1: T - 6, y2: H - 18, class: "hundred" }),
    s("text", { x: x(100), y: H - 4, "text-anchor": "middle" }, "100 %"));
  const table = h("table", { id: "compare-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Jobcenter"), h("th", {}, "Zielvereinbarung"), h("th", { class: "num" }, "Zielwert"),
      h("th", { class: "num" }, "Ist"), h("th", { class: "num" }, "Prognose"), h("th", { class: "num" }, "Zielerreichung"), h("th", {}, "Status"))),
    h("tbody", {}, sorted.map((r) => h("tr", { "data-jobcenter": r.jobcenter_id },
      h("td", {}, name(r)), h("td", {}, h("a", { href: `#/agreement/${r.agreement_id}` }, r.agreement_id)),
      cellNum(withUnit(r.target_value, r.unit), r.target_value, "target-value"), cellNum(withUnit(r.actual, r.unit), r.actual, "actual"),
      cellNum(withUnit(r.forecast, r.unit), r.forecast, "forecast"), cellNum(pct(r.attainment_pct), r.attainment_pct, "attainment"),
      h("td", {}, statusBadge(r.status))))));
  return h("div", {}, svg, table);
}

/* ---------- rejections ---------- */

async function renderRejections(main) {
  const items = await apiAll("/rejections");
  const sources = [...new Set(items.map((r) => r.source).filter(Boolean))].sort();
  const list = h("div", { id: "rejections" });
  const draw = (source) => {
    const shown = source ? items.filter((r) => r.source === source) : items;
    list.replaceChildren(shown.length ? h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "empfangen"), h("th", {}, "Quelle"), h("th", {}, "Nachricht"),
        h("th", {}, "Code"), h("th", {}, "Grund"), h("th", {}, "Inhalt"))),
      h("tbody", {}, shown.map((r) => h("tr", { class: "rejection", "data-code": r.code },
        h("td", {}, when(r.received_at)), h("td", {}, r.source ?? "–"), h("td", { class: "mono" }, r.message_id ?? "–"),
        h("td", { class: "mono code" }, r.code), h("td", { class: "reason" }, r.reason),
        h("td", { class: "mono body-cell" }, r.body.length > 160 ? r.body.slice(0, 160) + " …" : r.body,
          r.body_encoding === "base64" ? " (base64)" : "")))))
      : h("p", { class: "muted", id: "no-rejections" }, "Keine abgewiesenen Nachrichten."));
  };
  main.replaceChildren(h("h1", {}, `Abgewiesene Nachrichten (${items.length})`),
    h("div", { class: "filters" }, select("r-source", "Quelle", [["", "alle Quellen"], ...sources.map((x) => [x, x])], "",
      (e) => draw(e.target.value))), list);
  draw("");
}

/* ---------- router ---------- */

async function route() {
  const main = document.getElementById("main");
  const [page = "portfolio", arg] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
  main.replaceChildren(h("p", { class: "muted" }, "Lade …"));
  main.dataset.ready = "false";
  try {
    if (page === "agreement") await (arg ? renderAgreement(main, arg) : renderAgreementList(main, "agreement"));
    else if (page === "timetravel") await (arg ? renderTimeTravel(main, arg) : renderAgreementList(main, "timetravel"));
    else if (page === "compare") await renderCompare(main);
    else if (page === "rejections") await renderRejections(main);
    else await renderPortfolio(main);
  } catch (error) {
    main.replaceChildren(errorBox(error));
  }
  main.dataset.ready = "true";
}

window.addEventListener("hashchange", route);
route();
