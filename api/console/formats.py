"""Template filters of the list pages: times as the API gives them (ISO 8601, UTC) made short."""
from __future__ import annotations

import json
from datetime import datetime

from api.console.blueprint import blp


@blp.app_template_filter("utc_time")
def utc_time(value: str | None) -> str:
    """'2026-11-30T09:01:02.345+00:00' -> '2026-11-30 09:01:02' (UTC, as every time of the API)."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


@blp.app_template_filter("duration")
def duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


@blp.app_template_filter("pretty_json")
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
