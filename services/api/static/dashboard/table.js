/* A table whose columns sort by a button in each header (keyboard-accessible, aria-sort on the
   sorted column; rows without a value stay last). A column: {key, label, num, value(row), cell(row)}. */

import { h } from "./dom.js";

const missing = (v) => v === null || v === undefined || v === "" || Number.isNaN(v);

function compare(a, b, sign) {
  if (missing(a) || missing(b)) return Number(missing(a)) - Number(missing(b));
  return sign * (typeof a === "string" ? a.localeCompare(b, "de") : a - b);
}

/** Table `id` of `rows` sorted by `sort` ({key, dir: "ascending"|"descending"}); `onsort(sort)`
    hears every change (to keep it in the URL); `rowKey(row)` names a row (data-row). */
export function sortableTable({ id, caption, columns, rows, sort, onsort, rowKey }) {
  const state = { key: columns[0].key, dir: "ascending", ...sort };
  const head = h("tr");
  const body = h("tbody");
  const table = h("table", { id, class: "sortable-table" },
    caption ? h("caption", { class: "visually-hidden" }, caption) : null, h("thead", {}, head), body);
  function draw(focus) {
    const column = columns.find((c) => c.key === state.key) || columns[0];
    const sign = state.dir === "descending" ? -1 : 1;
    const sorted = [...rows].sort((a, b) => compare(column.value(a), column.value(b), sign));
    head.replaceChildren(...columns.map((c) => {
      const active = c.key === column.key;
      const next = active && state.dir === "ascending" ? "descending" : "ascending";
      const button = h("button", {
        type: "button", class: "sort-button", "data-sort": c.key,
        title: `nach ${c.label} ${next === "ascending" ? "aufsteigend" : "absteigend"} sortieren`,
        onclick: () => { state.key = c.key; state.dir = next; if (onsort) onsort({ ...state }); draw(c.key); },
      }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (state.dir === "ascending" ? "▲" : "▼") : "↕"));
      return h("th", { scope: "col", class: c.num ? "num" : null, "aria-sort": active ? state.dir : "none" }, button);
    }));
    body.replaceChildren(...sorted.map((row) => h("tr", { "data-row": rowKey(row) }, columns.map((c) => c.cell(row)))));
    if (focus) head.querySelector(`button[data-sort="${focus}"]`).focus();
  }
  draw();
  return table;
}
