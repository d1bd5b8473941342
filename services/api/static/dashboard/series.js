/* A monthly time series chart of key figures (percent): several lines (the jobcenter, its Land,
   Germany, the comparison type's median) over a band (the type's quartiles), round ticks, a
   stated range when the axis does not start at zero, a <title> and an aria-label. */

import { niceTicks } from "./charts.js";
import { MONTHS, monthName, num, pct } from "./de.js";
import { s } from "./dom.js";

/** Every month "YYYY-MM" from `first` to `last`. */
function monthsBetween(first, last) {
  const months = [];
  if (!first) return months;
  for (let [y, m] = first.split("-").map(Number); `${y}-${String(m).padStart(2, "0")}` <= last; m === 12 ? (y++, m = 1) : m++) {
    months.push(`${y}-${String(m).padStart(2, "0")}`);
  }
  return months;
}

/** Decimals a tick label needs for `step`. */
const decimals = (step) => (String(Number(step.toPrecision(6))).split(".")[1] || "").length;

/** `lines`: [{name, cls, points: [{period, value}]}] (the first is the subject, drawn with
    points); `band`: {name, points: [{period, low, high}]} or null. */
export function seriesChart(label, lines, band) {
  const W = 720, H = 260, L = 58, R = 14, T = 14, B = 40;
  const present = [...lines.flatMap((l) => l.points.map((p) => p.period)),
    ...(band ? band.points.map((p) => p.period) : [])].sort();
  const periods = monthsBetween(present[0], present[present.length - 1]);  // gaps stay gaps
  const values = [...lines.flatMap((l) => l.points.map((p) => Number(p.value))),
    ...(band ? band.points.flatMap((p) => [Number(p.low), Number(p.high)]) : [])].filter(Number.isFinite);
  let low = Math.min(...values), high = Math.max(...values);
  if (low >= 0 && low < high * 0.5) low = 0;
  else if (high <= 0 && high > low * 0.5) high = 0;
  else { const pad = (high - low) * 0.1 || Math.abs(high) * 0.05 || 1; low -= pad; high += pad; }
  const axis = niceTicks(low, high, 5);
  const step = periods.length > 1 ? (W - L - R) / (periods.length - 1) : 0;
  const index = new Map(periods.map((p, i) => [p, i]));
  const x = (period) => L + (periods.length > 1 ? index.get(period) * step : (W - L - R) / 2);
  const y = (v) => T + (1 - (Number(v) - axis.low) / (axis.high - axis.low)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", class: "series", role: "img", "aria-label": label });
  svg.append(s("title", {}, label));
  const digits = decimals(axis.step);
  for (const v of axis.ticks) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, `${num(v, digits)} %`));
  }
  const every = periods.length > 60 ? 12 : periods.length > 24 ? 6 : 3;
  for (const period of periods) {
    const month = Number(period.slice(5, 7));
    if ((month - 1) % every !== 0) continue;
    svg.append(s("line", { x1: x(period), x2: x(period), y1: H - B, y2: H - B + 4, class: "axis" }),
      s("text", { x: x(period), y: H - B + 16, "text-anchor": "middle" }, MONTHS[month - 1]));
    if (month === 1 || period === periods[0]) {
      svg.append(s("text", { x: x(period), y: H - B + 30, "text-anchor": "middle", class: "year" }, period.slice(0, 4)));
    }
  }
  if (axis.low > 0 || axis.high < 0) {
    svg.append(s("text", { x: W - R, y: H - 4, class: "axis-note", "text-anchor": "end" },
      `Achse von ${num(axis.low, digits)} % bis ${num(axis.high, digits)} %, nicht ab 0`));
  }
  const path = (points, value) => points.map((p, i) => {
    const joined = i && index.get(p.period) === index.get(points[i - 1].period) + 1;  // a missing month breaks the line
    return `${joined ? "L" : "M"}${x(p.period).toFixed(1)},${y(value(p)).toFixed(1)}`;
  }).join(" ");
  if (band && band.points.length) {
    const upper = path(band.points, (p) => p.high);
    const lower = [...band.points].reverse().map((p) => `L${x(p.period).toFixed(1)},${y(p.low).toFixed(1)}`).join(" ");
    const area = s("path", { d: `${upper} ${lower} Z`, class: "quartile-band" });
    area.append(s("title", {}, band.name));
    svg.append(area);
  }
  [...lines].reverse().forEach((line, reversed) => {
    if (!line.points.length) return;
    const subject = reversed === lines.length - 1;
    const drawn = s("path", { d: path(line.points, (p) => p.value), class: `line ${line.cls}`, "data-series": line.cls });
    drawn.append(s("title", {}, line.name));
    svg.append(drawn);
    if (!subject) return;
    for (const p of line.points) {
      const dot = s("circle", { cx: x(p.period), cy: y(p.value), r: 2.6, class: `dot ${line.cls}`, "data-period": p.period, "data-value": p.value });
      dot.append(s("title", {}, `${line.name}, ${monthName(p.period)}: ${pct(p.value)}`));
      svg.append(dot);
    }
  });
  return svg;
}
