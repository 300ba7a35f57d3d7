"""Time series from the metric samples (workers.metrics), averaged per step."""
from __future__ import annotations

from datetime import datetime, timedelta

from models import MetricSample


def _numbers(data: dict, prefix: str = "") -> dict[str, float]:
    """The numeric fields of a sample, nested ones as `a.b` (queues: {"lifecycle": 0} -> queues.lifecycle)."""
    out: dict[str, float] = {}
    for name, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[prefix + name] = value
        elif isinstance(value, dict):
            out.update(_numbers(value, f"{prefix}{name}."))
    return out


def series(source: str, since: datetime, until: datetime, step_s: int, tool_id: int | None) -> list[dict]:
    query = MetricSample.select(MetricSample.created_at, MetricSample.data).where(
        (MetricSample.source == source) & (MetricSample.created_at >= since) & (MetricSample.created_at < until))
    if tool_id is not None:
        query = query.where(MetricSample.tool_id == tool_id)
    buckets: dict[int, dict] = {}
    for created_at, data in query.order_by(MetricSample.created_at).tuples().iterator():
        index = int((created_at - since).total_seconds() // step_s)
        bucket = buckets.setdefault(index, {"n": 0, "sums": {}})
        bucket["n"] += 1
        for name, value in _numbers(data).items():
            bucket["sums"][name] = bucket["sums"].get(name, 0.0) + value
    points = []
    for index, bucket in sorted(buckets.items()):
        at = since + timedelta(seconds=index * step_s)
        points.append({"at": at.isoformat() + "+00:00", "samples": bucket["n"],
                       **{name: round(total / bucket["n"], 3) for name, total in bucket["sums"].items()}})
    return points
