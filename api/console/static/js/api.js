// The REST API from the browser, as the signed-in user: the session cookie goes along by itself (httpOnly,
// same origin); every unsafe request carries X-CSRF-TOKEN, read from the mcps_csrf cookie.
//
//   import { api, ApiError } from "/console/static/js/api.js";
//   const tools = await api.get("/tools", { page_size: 100 });          // paths are relative to /api/v1
//   const task = await api.post(`/tools/${id}/start`);                 // 202 + task
//   try { ... } catch (e) { if (e instanceof ApiError) show(e.message); }

export const API_PREFIX = "/api/v1";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export function cookie(name) {
  const prefix = `${name}=`;
  for (const part of document.cookie.split("; ")) {
    if (part.startsWith(prefix)) return decodeURIComponent(part.slice(prefix.length));
  }
  return null;
}

export function csrfToken() {
  return cookie("mcps_csrf");
}

export function apiUrl(path, query) {
  const url = new URL(path.startsWith(API_PREFIX) ? path : API_PREFIX + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

export async function request(method, path, { query, json, headers, signal } = {}) {
  const init = { method, credentials: "same-origin", signal, headers: { Accept: "application/json", ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  if (UNSAFE.has(method) && csrfToken()) init.headers["X-CSRF-TOKEN"] = csrfToken();
  const response = await fetch(apiUrl(path, query), init);
  const text = response.status === 204 ? "" : await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { message: text }; }
  if (response.status === 401 && !path.startsWith("/auth/login") && !leaving) {
    signInAgain();
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// Once the page is leaving (signing out, or sent to sign in again), a request refused with 401 meanwhile
// must not start a second navigation.
let leaving = false;

export function beginLeaving() {
  leaving = true;
}

export function leaveTo(url) {
  beginLeaving();
  window.location.assign(url);
}

export function signInAgain() {
  if (leaving) return;
  const next = window.location.pathname + window.location.search;
  leaveTo(`/login?next=${encodeURIComponent(next)}`);
}

export const api = {
  get: (path, query, options) => request("GET", path, { ...options, query }),
  post: (path, json, options) => request("POST", path, { ...options, json }),
  put: (path, json, options) => request("PUT", path, { ...options, json }),
  patch: (path, json, options) => request("PATCH", path, { ...options, json }),
  del: (path, options) => request("DELETE", path, options),
};

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

// Follow a task (start/stop/restart, an async call) until it is final; onUpdate(task) on each change.
export async function followTask(taskId, onUpdate, { intervalMs = 300, timeoutMs = 120000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    const task = await api.get(`/tasks/${taskId}`);
    const seen = JSON.stringify([task.status, task.progress]);
    if (seen !== last && onUpdate) onUpdate(task);
    last = seen;
    if (FINAL.has(task.status) || Date.now() > deadline) return task;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
