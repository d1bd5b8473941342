/* Small DOM builders shared by the pages: h() for HTML, s() for SVG, and the pieces every page
   uses (status badges, number cells, labelled selects, chart boxes, error and empty states,
   downloads). */

import { download } from "./api.js";
import { errorText, statusName } from "./de.js";

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}

export function s(tag, attrs, ...children) {
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

/** Append children, skipping null/undefined/false (never the text "null"). */
export function append(element, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children, skipping null/undefined/false. */
export function show(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function statusBadge(status) {
  return h("span", { class: `status ${status}`, "data-status": status }, statusName(status));
}

export function cellNum(text, value, cls = "") {
  return h("td", { class: `num ${cls}`, "data-value": value === null || value === undefined ? "" : value }, text);
}

let ids = 0;
/** A labelled select: options are [value, text] pairs. */
export function select(id, label, options, value, onchange) {
  const element = h("select", { id, onchange },
    options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) }, text)));
  return h("label", { for: id }, label, element);
}

/** A chart in a box that scrolls sideways when the chart is wider than the screen (a phone),
    reachable by keyboard so that it can be scrolled without a mouse. */
export function chartBox(chart) {
  return h("div", { class: "chart-scroll", tabindex: 0, role: "region", "aria-label": chart.getAttribute("aria-label") }, chart);
}

export function errorBox(error) {
  return h("div", { class: "error", role: "alert", "data-code": error.code || "" }, errorText(error));
}

/** An empty state that says why: `reason` is a full German sentence. */
export function empty(id, reason) {
  return h("p", { class: "muted empty", id }, reason);
}

/** A button that fetches `path` with the token and saves it as a file. */
export function downloadButton(id, text, path, fallback) {
  const status = h("span", { class: "download-status muted", role: "status" });
  const button = h("button", {
    type: "button", class: "secondary download", id,
    onclick: async () => {
      button.disabled = true;
      status.textContent = "wird geladen …";
      try {
        const name = await download(typeof path === "function" ? path() : path, fallback);
        status.textContent = `gespeichert: ${name}`;
      } catch (error) {
        status.textContent = errorText(error);
      }
      button.disabled = false;
    },
  }, text);
  return h("span", { class: "download-wrap", id: `${id}-wrap-${++ids}` }, button, status);
}
