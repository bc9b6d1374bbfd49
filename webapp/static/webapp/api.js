// The public REST API, as this page calls it. The access token lives in this module's memory
// only; the refresh token is an HttpOnly cookie that scripts cannot read, sent by the browser
// to /api/session/ alone (see README, "Browser sessions").

const TIMEOUT_MS = 15000;

let access = null;
let refreshing = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body) || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

// The request never reached an answer (offline, timed out, connection dropped): it may or
// may not have been applied, so only idempotent requests are retried.
export class NetworkError extends Error {}

// Fields as the page names them to people (the message's `text` is its "Message" box).
const FIELD_NAMES = { text: "Message", non_field_errors: "" };

function describe(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.detail === "string") return body.detail;
  return Object.entries(body)
    .map(([field, problems]) => {
      const text = Array.isArray(problems) ? problems.join(" ") : String(problems);
      const name = FIELD_NAMES[field] ?? field.charAt(0).toUpperCase() + field.slice(1).replaceAll("_", " ");
      return name ? `${name}: ${text}` : text;
    })
    .join(" ");
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export function accessToken() {
  return access;
}

async function send(method, path, { json, form, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (auth && access) headers.Authorization = `Bearer ${access}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new NetworkError(error.name === "TimeoutError" ? "The server did not answer in time." : "No connection to the server.");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 200) };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// One refresh at a time: every request that found its token expired waits for the same one,
// and tabs take turns (each refresh replaces the cookie they share: two at once would spend
// the same token, and the loser's answer would delete the winner's new cookie).
export function refreshAccess() {
  const exchange = () => send("POST", "/api/session/refresh/", { json: {}, auth: false });
  refreshing ??= (navigator.locks ? navigator.locks.request("chat-session-refresh", exchange) : exchange())
    .then((data) => {
      access = data.access;
      return access;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

// Only a refused refresh (401: no cookie, or an expired or revoked one) ends the session; a
// throttled or failing server (429, 5xx) says "not now", and the cookie still holds.
export function sessionEnded(error) {
  return error instanceof ApiError && error.status === 401;
}

export async function api(method, path, options = {}) {
  try {
    return await send(method, path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || options.auth === false) throw error;
    try {
      await refreshAccess();
    } catch (refreshError) {
      if (sessionEnded(refreshError)) {
        access = null;
        onSignedOut();
      }
      throw refreshError;
    }
    return send(method, path, options);
  }
}

export async function restoreSession() {
  try {
    await refreshAccess();
    return true;
  } catch (error) {
    if (sessionEnded(error)) return false;
    throw error;
  }
}

export async function logIn(username, password) {
  const data = await send("POST", "/api/session/", { json: { username, password }, auth: false });
  access = data.access;
}

export async function signUp(username, password) {
  await send("POST", "/api/user/register/", { json: { username, password }, auth: false });
  await logIn(username, password);
}

export async function logOut() {
  access = null;
  await send("POST", "/api/session/logout/", { json: {}, auth: false }).catch(() => {});
}

export function query(path, parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}
