// Talking to Dure's API: the token, problem+json errors in words, images behind the token.

const TOKEN_KEY = "dure.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
}

export function setToken(token, remember) {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  if (token) (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
}

/** An API error whose message is the server's own words (problem+json detail). */
export class ApiError extends Error {
  constructor(status, title, detail, errors, field) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.errors = errors || [];
    this.field = field || null; // the input the server names (problem+json "field")
  }
}

async function problem(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  if (body && typeof body === "object") {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ")
      : body.detail;
    return new ApiError(response.status, body.title, detail, body.errors, body.field);
  }
  return new ApiError(response.status, response.statusText, `the server answered ${response.status}`);
}

let onUnauthorised = () => {};
export function whenUnauthorised(callback) {
  onUnauthorised = callback;
}

/** Call the API; JSON in and out. `body` may be FormData (multipart uploads). */
export async function api(path, { method = "GET", body, token, signal } = {}) {
  const headers = {};
  const bearer = token || getToken();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "offline", "Dure's server cannot be reached: is it running?");
  }
  if (response.status === 401 && !token) onUnauthorised();
  if (!response.ok) throw await problem(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

const blobUrls = new Map();

/** An object URL for a stored blob (images are behind the token, so <img src> cannot fetch them). */
export async function blobUrl(sha256) {
  if (!sha256) return null;
  if (blobUrls.has(sha256)) return blobUrls.get(sha256);
  const pending = api(`/api/blobs/${sha256}`).then((blob) => URL.createObjectURL(blob));
  blobUrls.set(sha256, pending);
  pending.catch(() => blobUrls.delete(sha256));
  return pending;
}

export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}
