"""The dashboard's figures, computed from the task rows (calls), the tools and the latest host sample.

Open alerts come from the alerts module of another branch: read from its table when it exists, else []."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import peewee

from models import MetricSample, Task, Tool, utcnow
from models.alerts import Alert
from models.tools import STATUSES

OPEN_ALERTS_LIMIT = 50


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the value at rank ceil(fraction * n))."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))
    return round(sorted_values[min(rank, len(sorted_values)) - 1], 3)


def call_figures(minutes: int, visible_tool_ids: frozenset[int] | None, top: int) -> dict:
    since = utcnow() - timedelta(minutes=minutes)
    query = Task.select(Task.tool_id, Task.status, Task.duration_ms).where(
        (Task.kind == "call") & (Task.finished_at >= since))
    if visible_tool_ids is not None:
        query = query.where(Task.tool_id.in_(sorted(visible_tool_ids)))
    rows = list(query.tuples())
    durations = sorted(d for _, _, d in rows if d is not None)
    failed = sum(status != "succeeded" for _, status, _ in rows)
    per_tool: dict[int, list] = {}
    for tool_id, status, duration in rows:
        per_tool.setdefault(tool_id, []).append((status, duration))
    names = dict(Tool.select(Tool.id, Tool.name).where(Tool.id.in_(list(per_tool))).tuples()) if per_tool else {}
    top_tools = sorted(per_tool.items(), key=lambda item: (-len(item[1]), item[0] or 0))[:top]
    return {
        "window_minutes": minutes, "calls": len(rows), "failed": failed,
        "calls_per_minute": round(len(rows) / minutes, 3),
        "error_rate": round(failed / len(rows), 4) if rows else 0.0,
        "p50_ms": percentile(durations, 0.50), "p95_ms": percentile(durations, 0.95),
        "top_tools": [{"tool_id": tool_id, "tool": names.get(tool_id), "calls": len(calls),
                       "failed": sum(status != "succeeded" for status, _ in calls),
                       "p95_ms": percentile(sorted(d for _, d in calls if d is not None), 0.95)}
                      for tool_id, calls in top_tools],
    }


def tools_by_status(visible_tool_ids: frozenset[int] | None) -> dict[str, int]:
    query = Tool.select(Tool.status, peewee.fn.COUNT(Tool.id)).group_by(Tool.status)
    if visible_tool_ids is not None:
        query = query.where(Tool.id.in_(sorted(visible_tool_ids)))
    counts = Counter(dict(query.tuples()))
    return {status: counts.get(status, 0) for status in STATUSES}


def host_load() -> dict | None:
    sample = MetricSample.select().where(MetricSample.source == "host").order_by(MetricSample.id.desc()).first()
    return None if sample is None else {"sampled_at": sample.created_at.isoformat() + "+00:00", **sample.data}


def open_alerts() -> list[dict]:
    """The firing alerts (models.alerts), newest first."""
    alerts = Alert.select().where(Alert.status == "firing").order_by(Alert.id.desc()).limit(OPEN_ALERTS_LIMIT)
    return [{"id": alert.id, "status": alert.status, "severity": alert.severity, "rule": alert.rule_name,
             "subject": alert.subject, "message": alert.message, "value": alert.value,
             "fired_at": alert.fired_at.isoformat(), "acknowledged": alert.acknowledged_at is not None}
            for alert in alerts]
