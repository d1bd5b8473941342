/* SVG charts: round axis ticks (1, 2, 2,5 or 5 × 10^n), a stated range when an axis does not
   start at zero, a <title> and an aria-label on every chart. */

import { s } from "./dom.js";
import { MONTHS, monthName, num, pct, statusName, withUnit } from "./de.js";

/** Round ticks covering [low, high]: {ticks, step, low, high}. `whole`: steps of at least 1. */
export function niceTicks(low, high, count = 5, whole = false) {
  if (!Number.isFinite(low) || !Number.isFinite(high)) { low = 0; high = 1; }
  if (high === low) { high = low + (Math.abs(low) || 1); }
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const factors = whole && power < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  let step = factors.map((f) => f * power).find((candidate) => candidate >= raw);
  if (whole) step = Math.max(1, step);
  step = Number(step.toPrecision(6));
  const first = Math.floor(low / step + 1e-9) * step;
  const last = Math.ceil(high / step - 1e-9) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, step, low: first, high: last };
}

/** Decimals a tick label needs for `step`. */
function decimals(step) {
  const fraction = String(Number(step.toPrecision(6))).split(".")[1];
  return fraction ? fraction.length : 0;
}

function chartFrame(width, height, label, cls, id) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", class: cls, id, role: "img", "aria-label": label });
  svg.append(s("title", {}, label));
  return svg;
}

/** A small horizontal bar: attainment up to 120 %, a mark at 100 %. */
export function attainmentBar(value, status) {
  const width = 120, height = 12;
  const label = value === null || value === undefined ? "keine Zielerreichung" : `Zielerreichung ${pct(value)}`;
  const svg = chartFrame(width, height, label, "mini-bar");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.append(s("rect", { x: 0, y: 2, width, height: 8, fill: "#e3e8ee" }));
  if (value !== null && value !== undefined) {
    const w = Math.max(0, Math.min(120, Number(value))) / 120 * width;
    svg.append(s("rect", { x: 0, y: 2, width: w, height: 8, class: `bar ${status}` }));
  }
  svg.append(s("line", { x1: 100, x2: 100, y1: 0, y2: height, class: "hundred" }));
  return svg;
}

/** A year's trajectory of one target. Accumulating (`sum`): the cumulative actual against the
    Soll (the answer's plan_path, labelled by plan_basis) and the forecast; otherwise monthly
    values against the target line. Months still in their waiting period are shaded, corrected
    months drawn hollow, amendments marked. */
export function trajectoryChart(target, figures, amendments, year) {
  const W = 540, H = 250, L = 64, R = 16, T = 16, B = 46;
  const unit = target.unit;
  const byMonth = new Map(figures.map((f) => [Number(f.period.slice(5, 7)), f]));
  const cumulative = target.aggregation === "sum";
  const plan = (target.plan_path || []).map(Number);
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
  const values = [...points.map((p) => p.value), goal, Number(target.forecast ?? NaN),
    ...(cumulative ? plan : [])].filter(Number.isFinite);
  const fromZero = cumulative || Math.min(...values) >= 0 && Math.min(...values) < Math.max(...values) * 0.5;
  let low = fromZero ? Math.min(0, ...values) : Math.min(...values);
  let high = Math.max(...values);
  if (!fromZero) { const pad = (high - low) * 0.1 || Math.abs(high) * 0.05 || 1; low -= pad; high += pad; }
  const axis = niceTicks(low, high, 5, unit === "count" && high - low >= 5);
  const x = (m) => L + (m / 12) * (W - L - R);
  const y = (v) => T + (1 - (v - axis.low) / (axis.high - axis.low)) * (H - T - B);
  const name = target.label || "Ziel";
  const svg = chartFrame(W, H, `Jahresverlauf ${year}: ${name}`, "trajectory");
  const digits = decimals(axis.step);
  for (const v of axis.ticks) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, num(v, digits)));
  }
  for (let m = 1; m <= 12; m++) {
    const figure = byMonth.get(m);
    if (figure && (figure.flags || []).includes("waiting_period")) {
      const band = s("rect", { x: x(m - 1) + 1, y: H - B + 2, width: x(1) - x(0) - 2, height: 5, class: "waiting",
        "data-period": figure.period });
      band.append(s("title", {}, `${monthName(figure.period)}: noch in der Wartezeit, vorläufig`));
      svg.append(band);
    }
    svg.append(s("text", { x: x(m) - (W - L - R) / 24, y: H - B + 20, "text-anchor": "middle" }, MONTHS[m - 1]));
  }
  svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  if (axis.low !== 0) {
    svg.append(s("text", { x: L - 6, y: H - 6, class: "axis-note", "text-anchor": "start" },
      `Achse beginnt bei ${withUnit(axis.low, unit)}, nicht bei 0`));
  }
  if (cumulative && plan.length === 12) {
    const d = [{ m: 0, v: 0 }, ...plan.map((v, i) => ({ m: i + 1, v }))]
      .map((p, i) => `${i ? "L" : "M"}${x(p.m).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    const path = s("path", { d, class: "expected plan-path", "data-basis": target.plan_basis || "" });
    path.append(s("title", {}, `Soll bis Dezember: ${withUnit(plan[11], unit)}`));
    svg.append(path);
  } else if (cumulative) {
    svg.append(s("line", { x1: x(0), y1: y(0), x2: x(12), y2: y(goal), class: "expected" }));
  } else {
    svg.append(s("line", { x1: x(0), x2: x(12), y1: y(goal), y2: y(goal), class: "target-line" }));
  }
  if (points.length) {
    const d = (cumulative ? [{ month: 0, value: 0 }, ...points] : points)
      .map((p, i) => `${i ? "L" : "M"}${x(p.month).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: "actual" }));
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
      circle.append(s("title", {}, `${monthName(p.figure.period)}: Monatswert ${num(p.figure.value)}` +
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
      s("text", { x: x(m) + 3, y: T + 10, class: "amendment-text" }, "Zieländerung"));
  }
  return svg;
}

/** Horizontal bars of attainment per row, with a line at 100 %. */
export function attainmentBars(rows, nameOf, id) {
  const W = 900, L = 300, R = 150, bar = 26, gap = 10, T = 24;
  const H = T + rows.length * (bar + gap) + 24;
  const axis = niceTicks(0, Math.max(120, ...rows.map((r) => Number(r.attainment_pct ?? 0))), 6);
  const x = (v) => L + v / axis.high * (W - L - R);
  const svg = chartFrame(W, H, "Zielerreichung je Jobcenter in Prozent", "bars", id);
  svg.append(s("text", { x: L, y: 14 }, "Zielerreichung in %"));
  rows.forEach((r, i) => {
    const top = T + i * (bar + gap);
    const value = r.attainment_pct === null ? 0 : Number(r.attainment_pct);
    const rect = s("rect", { x: L, y: top, width: Math.max(0, x(value) - L), height: bar, class: `bar ${r.status}`,
      "data-jobcenter": r.jobcenter_id, "data-value": r.attainment_pct ?? "" });
    rect.append(s("title", {}, `${nameOf(r)}: ${pct(r.attainment_pct)} (${statusName(r.status)})`));
    svg.append(s("text", { x: L - 8, y: top + bar / 2 + 4, "text-anchor": "end", class: "bar-label" }, nameOf(r)),
      rect, s("text", { x: x(value) + 6, y: top + bar / 2 + 4, class: "bar-value" }, `${pct(r.attainment_pct)} · ${statusName(r.status)}`));
  });
  svg.append(s("line", { x1: x(100), x2: x(100), y1: T - 6, y2: H - 18, class: "hundred" }),
    s("text", { x: x(100), y: H - 4, "text-anchor": "middle" }, "100 %"));
  return svg;
}
