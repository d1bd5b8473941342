/* Rejected messages (auditors and operators): when, from which source, why (in German, from
   the code; the server's technical message folded away and labelled as English), and the body
   as received. */

import { apiAll } from "../api.js";
import { rejectionName, when } from "../de.js";
import { empty, h, select, show } from "../dom.js";

export default {
  id: "rejections",
  title: "Abweisungen",
  roles: ["auditor", "admin"],
  render,
};

async function render(main) {
  const items = await apiAll("/rejections");
  const sources = [...new Set(items.map((r) => r.source).filter(Boolean))].sort();
  const list = h("div", { id: "rejections" });
  const draw = (source) => {
    const shown = source ? items.filter((r) => r.source === source) : items;
    show(list, shown.length ? h("div", { class: "table-scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "empfangen"), h("th", { scope: "col" }, "Quelle"),
        h("th", { scope: "col" }, "Nachricht"), h("th", { scope: "col" }, "Grund"), h("th", { scope: "col" }, "Inhalt"))),
      h("tbody", {}, shown.map((r) => h("tr", { class: "rejection", "data-code": r.code },
        h("td", {}, when(r.received_at)), h("td", {}, r.source ?? "unbekannt"), h("td", { class: "mono" }, r.message_id ?? "ohne Kennung"),
        h("td", { class: "reason" }, h("b", { class: "code-name" }, rejectionName(r.code)),
          h("details", {}, h("summary", {}, "Technische Meldung (englisch)"), h("span", { class: "mono detail", lang: "en" }, r.reason))),
        h("td", { class: "mono body-cell" }, r.body.length > 160 ? r.body.slice(0, 160) + " …" : r.body,
          r.body_encoding === "base64" ? " (base64)" : ""))))))
      : empty("no-rejections", source ? "Von dieser Quelle wurde keine Nachricht abgewiesen." : "Bisher wurde keine Nachricht abgewiesen."));
  };
  show(main, h("h1", {}, `Abgewiesene Nachrichten (${items.length})`),
    h("div", { class: "filters" }, select("r-source", "Quelle", [["", "alle Quellen"], ...sources.map((x) => [x, x])], "",
      (e) => draw(e.target.value))), list);
  draw("");
}
