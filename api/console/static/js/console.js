// Loaded by every console page: the CSRF header on htmx's requests, sign-out, error messages, the live
// event stream. Page scripts are modules of their own (js/pages/<page>.js) importing api.js and live.js.

import { api, ApiError, beginLeaving, csrfToken, leaveTo, signInAgain } from "./api.js";
import { startLive, stopLive } from "./live.js";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// htmx requests (to console routes, which call the REST API as the user) carry the CSRF token too.
document.addEventListener("htmx:configRequest", (event) => {
  if (UNSAFE.has(event.detail.verb.toUpperCase()) && csrfToken()) {
    event.detail.headers["X-CSRF-TOKEN"] = csrfToken();
  }
});

// An htmx request the server refused: show its message (an error fragment or the API's JSON error).
document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  let message = xhr.responseText;
  try { message = JSON.parse(xhr.responseText).message || message; } catch { /* an HTML fragment */ }
  // DOMParser: the text of a fragment without running or loading anything in it.
  const text = new DOMParser().parseFromString(message, "text/html").body.textContent.trim();
  flash(text || `HTTP ${xhr.status}`, "error");
});

export function flash(text, kind = "info") {
  const box = document.getElementById("flash");
  if (!box) return;
  const line = document.createElement("p");
  line.className = `flash-line flash-${kind}`;
  line.textContent = text;
  box.replaceChildren(line);
  if (kind !== "error") setTimeout(() => line.remove(), 5000);
}

export function showError(error) {
  flash(error instanceof ApiError ? error.message : String(error), "error");
}

async function signOut() {
  beginLeaving(); // requests refused once the token is revoked must not send the page to sign in again
  stopLive();
  const csrf = csrfToken();
  try { await api.post("/auth/logout"); } catch { /* already signed out: clear the cookies anyway */ }
  await fetch("/session", { method: "DELETE", credentials: "same-origin", headers: csrf ? { "X-CSRF-TOKEN": csrf } : {} });
  leaveTo("/login");
}

// A page left open keeps its session: the answer renews the cookie past half its life (api/console/session.py).
const KEEP_ALIVE_MS = 5 * 60 * 1000;

async function keepAlive() {
  const response = await fetch("/session", { credentials: "same-origin" }).catch(() => null);
  if (response && response.status === 401) signInAgain();
}

function boot() {
  const button = document.getElementById("sign-out");
  if (button) {
    button.addEventListener("click", signOut);
    setInterval(keepAlive, KEEP_ALIVE_MS);
  }
  startLive();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
