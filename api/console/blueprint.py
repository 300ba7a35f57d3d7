"""The console's blueprint: security headers, server timing, the session renewal and what every
template knows (the signed-in user, `may(method, path)`, the nav)."""
from __future__ import annotations

import time
from pathlib import Path

from flask import Blueprint, g, request

from api.console import roles, session_cookie

blp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
                static_url_path="/console/static")

# Filled by `make console-assets` from the npm registry (git-ignored), served as static files.
VENDOR_DIR = Path(__file__).with_name("static") / "vendor"
VENDOR_FILES = ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css")

# No inline script or style anywhere: every script and stylesheet is a file of static/.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

NAV = [  # (endpoint, label, the API request a user must be allowed to see the page)
    ("console.overview", "Overview", ("GET", "/monitoring/dashboard")),
    ("console.tools", "Tools", ("GET", "/tools")),
    ("console.tasks", "Tasks", ("GET", "/tasks")),
    ("console.logs", "Logs", ("GET", "/logs")),
    ("console.alerts", "Alerts", ("GET", "/monitoring/alerts")),
    ("console.connect", "Connect", ("GET", "/auth/api-keys")),
    ("console.admin", "Admin", ("GET", "/users")),
]


@blp.before_request
def _start_clock():
    g.console_started = time.perf_counter()


@blp.after_request
def _console_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if not request.path.startswith(blp.static_url_path):
        response.headers.setdefault("Cache-Control", "no-store")
        session_cookie.renew_if_due(response)
    started = g.get("console_started")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


@blp.context_processor
def _template_globals():
    return {"may": roles.may, "console_user": session_cookie.signed_in_user, "nav": NAV,
            "vendor_ready": all((VENDOR_DIR / name).is_file() for name in VENDOR_FILES)}
