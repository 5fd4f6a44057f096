// Calls to the task API with the operator's token. The token lives in sessionStorage (this tab
// only, gone when it closes, never sent by the browser on its own as a cookie would be) and goes
// out only as `Authorization: Bearer`.

const KEY = "celeriac.token";

/** The token of this browser tab ("" when none). */
export function token() { return sessionStorage.getItem(KEY) || ""; }

/** Keeps (or, with "", forgets) the token for this tab. */
export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}

/** The headers of every call: the token when there is one. */
export function authHeaders(extra) {
  const headers = Object.assign({ Accept: "application/json" }, extra);
  if (token()) headers.Authorization = "Bearer " + token();
  return headers;
}

/** An answer other than 2xx, with its problem+json body (`detail`, `field`). */
export class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    this.problem = problem;
  }
}

/** GET (or `method`) `path` and its JSON body; throws APIError on a non-2xx answer. */
export async function api(path, method = "GET") {
  const response = await fetch(path, { method, headers: authHeaders(), cache: "no-store" });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { detail: text }; }
  if (!response.ok) throw new APIError(response.status, body);
  return body;
}

/** A query string of the non-empty entries of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value != null && value !== "") search.set(key, value);
  const text = search.toString();
  return text ? "?" + text : "";
}
