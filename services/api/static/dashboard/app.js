/* Zielsteuerung dashboard: reads only the query API; no build step, no external assets.
   Hash routes #/<page>/<arg>?<filters> (pages/index.js). A bearer token given once as
   ?token=... is kept in sessionStorage and sent with every call (api.js). */

import { claims, onPosition } from "./api.js";
import { ROLE, landName } from "./de.js";
import { downloadButton, empty, errorBox, h, show } from "./dom.js";
import { href, parseHash } from "./nav.js";
import { PAGES } from "./pages/index.js";

const scope = claims();
const allowed = (page) => !scope.role || page.roles.includes(scope.role);
const visible = PAGES.filter(allowed);

onPosition((position) => { document.getElementById("position").textContent = `Position ${position}`; });

function drawChrome() {
  const nav = document.getElementById("nav");
  show(nav, visible.map((page) => h("a", { href: href(page.id), "data-page": page.id }, page.title)));
  const who = scope.role ? `${ROLE[scope.role] || scope.role} · ${scope.federal ? "bundesweit" : [...scope.lands.map(landName), ...scope.jobcenters.map((id) => `Jobcenter ${id}`)].join(", ")}` : "";
  document.getElementById("who").textContent = who;
  if (!scope.role || scope.role === "auditor" || scope.role === "admin") {
    document.getElementById("operations").append(" · ",
      downloadButton("metrics-download", "Metriken herunterladen", "/metrics", "metriken.txt"));
  }
}

async function route() {
  const main = document.getElementById("main");
  let { page: id, arg, params } = parseHash();
  if (!id) {
    const first = visible[0];
    if (!first) {
      show(main, h("h1", {}, "Keine Ansicht verfügbar"), empty("no-page", "Mit Ihrer Rolle lässt sich keine Ansicht des Dashboards öffnen."));
      main.dataset.ready = "true";
      return;
    }
    id = first.id;
    history.replaceState(null, "", location.pathname + location.search + href(id));
  }
  const page = PAGES.find((p) => p.id === id);
  for (const link of document.querySelectorAll("#nav a")) {
    const active = link.dataset.page === id;
    link.classList.toggle("active", active);
    if (active) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  main.dataset.ready = "false";
  show(main, h("p", { class: "muted" }, "Lade …"));
  try {
    if (!page) show(main, h("h1", {}, "Seite nicht gefunden"), empty("no-page", "Diese Ansicht gibt es nicht. Bitte wählen Sie oben eine Ansicht."));
    else if (!allowed(page)) show(main, h("h1", {}, page.title), empty("no-page", "Ihre Rolle darf diese Ansicht nicht öffnen."));
    else await page.render(main, arg, params);
  } catch (error) {
    show(main, h("h1", {}, page ? page.title : "Fehler"), errorBox(error));
  }
  main.dataset.ready = "true";
}

drawChrome();
window.addEventListener("hashchange", route);
route();
