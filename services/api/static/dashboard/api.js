/* The query API: the bearer token (given once as ?token=..., kept in sessionStorage), its
   claims (decoded here for navigation only; the server enforces the scope), JSON calls and
   downloads fetched with the token and saved as files. */

const TOKEN_KEY = "zs-token";

(function keepToken() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
})();

function authHeaders(accept) {
  const headers = { Accept: accept };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  return headers;
}

const asList = (value) => (value === undefined || value === null ? [] : [].concat(value));

/** The token's claims: role, lands, jobcenters; `federal` when a reader has no scope claims
    (or the role is not a reader). Unknown (a token that is not a JWT): treated as federal. */
export function claims() {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  let payload = {};
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    payload = JSON.parse(new TextDecoder().decode(bytes));
  } catch (_) { payload = {}; }
  const role = payload.role || null;
  const lands = asList(payload.land);
  const jobcenters = asList(payload.jobcenter_id);
  return { role, lands, jobcenters, federal: role !== "reader" || (!lands.length && !jobcenters.length) };
}

/** An error answer of the API: its code (`not_found`, ...), HTTP status and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const listeners = [];
/** Call `listener(position)` with every answer's X-Position. */
export function onPosition(listener) { listeners.push(listener); }

async function call(path, accept) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders(accept) });
  } catch (_) {
    throw new ApiError(0, "network", `no answer for ${path}`);
  }
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    const error = body && body.error;
    throw new ApiError(response.status, error ? error.code : "", error ? error.message : path);
  }
  const position = response.headers.get("X-Position");
  if (position !== null) listeners.forEach((listener) => listener(position));
  return response;
}

export async function api(path) {
  return (await call(path, "application/json")).json();
}

/** Every item of a list endpoint (pages of 1,000). */
export async function apiAll(path) {
  const sep = path.includes("?") ? "&" : "?";
  const pageAt = (offset) => api(`${path}${sep}limit=1000&offset=${offset}`);
  const first = await pageAt(0);
  const offsets = [];
  for (let offset = 1000; offset < first.count && first.items.length; offset += 1000) offsets.push(offset);
  const rest = await Promise.all(offsets.map(pageAt));  // the further pages at once, not one by one
  return [first, ...rest].flatMap((page) => page.items);
}

export function query(params) {
  const kept = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
}

/** Fetch `path` with the token and save the answer as a file (the server's name, else
    `fallback`). Returns the file name. */
export async function download(path, fallback) {
  const response = await call(path, "*/*");
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = named ? decodeURIComponent(named[1]) : fallback;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}

let jobcenterCache = null;
/** Every jobcenter in the caller's scope, by id: {name, land}. */
export async function jobcenters() {
  if (!jobcenterCache) {
    const items = await apiAll("/jobcenters");
    jobcenterCache = Object.fromEntries(items.map((j) => [j.jobcenter_id, j]));
  }
  return jobcenterCache;
}
