"""Overview: tools by status, calls per minute, error rate and latency over time, host load, open alerts.
The page is a frame; static/js/pages/overview.js fills it from GET /monitoring/dashboard and keeps it
live from the event stream."""
from __future__ import annotations

from api.console.blueprint import blp
from api.console.pages import render_page
from api.console.session_cookie import page


@blp.get("/")
@page
def overview():
    return render_page("console/overview.html", "console.overview")
