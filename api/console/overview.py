"""Overview: tools by status, calls per minute, error rate and latency over time, host load, open alerts.
The page is a frame; static/js/pages/overview.js fills it from GET /monitoring/dashboard (and the host
series of GET /monitoring/metrics) and refreshes it on live events (tool status, finished tasks, alerts)
and every few seconds."""
from __future__ import annotations

from api.console.blueprint import blp
from api.console.pages import render_page
from api.console.session_cookie import page
from models.tools import STATUSES

WINDOW_MINUTES = 15


@blp.get("/")
@page
def overview():
    return render_page("console/overview.html", "console.overview", statuses=STATUSES, window_minutes=WINDOW_MINUTES)
