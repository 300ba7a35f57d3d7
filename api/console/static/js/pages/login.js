// Sign in through the REST API (its lockout and messages), then let the console keep the token in an
// httpOnly cookie (POST /session); the token is never stored by this script.
import { ApiError, request } from "../api.js";

const form = document.getElementById("sign-in");
const error = document.getElementById("sign-in-error");

function minutes(seconds) {
  const n = Math.max(1, Math.ceil(seconds / 60));
  return `${n} minute${n === 1 ? "" : "s"}`;
}

function explain(failure) {
  if (!(failure instanceof ApiError)) return "The platform cannot be reached. Try again.";
  switch (failure.status) {
    case 401: return "Wrong username or password.";
    case 423: {
      const match = /in (\d+) s/.exec(failure.message);
      return `This account is locked after too many failed sign-ins. Try again in ${match ? minutes(Number(match[1])) : "a while"}.`;
    }
    case 429: return "Too many failed sign-ins from this address. Try again later.";
    case 403: return "This account is disabled. Ask an admin.";
    case 422: return "Enter your username and password.";
    default: return failure.message;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const data = new FormData(form);
  try {
    const tokens = await request("POST", "/auth/login", {
      json: { username: data.get("username"), password: data.get("password") },
    });
    const opened = await fetch("/session", {
      method: "POST", credentials: "same-origin", headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    if (!opened.ok) throw new ApiError(opened.status, await opened.json().catch(() => null));
    window.location.assign(form.dataset.next || "/");
  } catch (failure) {
    error.textContent = explain(failure);
    error.dataset.status = failure.status || "";
    error.hidden = false;
  }
});
