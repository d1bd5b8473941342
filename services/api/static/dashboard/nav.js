/* Hash routes: #/<page>/<arg>?<filters>. Filters live in the URL so a view can be shared and
   reloaded; changing them replaces the history entry without re-rendering the page. */

export function parseHash() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [page = "", ...rest] = path.split("/").map(decodeURIComponent);
  return { page, arg: rest.join("/") || "", params: Object.fromEntries(new URLSearchParams(search)) };
}

export function href(page, arg = "", params = {}) {
  const kept = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  const search = kept.length ? "?" + new URLSearchParams(kept).toString() : "";
  return `#/${page}${arg ? "/" + encodeURIComponent(arg) : ""}${search}`;
}

/** Keep `params` in the URL of the current page (no new history entry, no re-render). */
export function keepParams(params) {
  const { page, arg } = parseHash();
  history.replaceState(null, "", location.pathname + location.search + href(page, arg, params));
}
