"""Time series from the metric samples (workers.metrics), averaged per step.

Both tiers are read: the samples themselves (the last monitoring.raw_keep_hours) and the hourly roll-ups
retention made of older ones (models.rollups). A roll-up counts as its number of samples, so a point's
average is the same whichever tier its samples are in now; each point also has the `max` of each field.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from models import MetricRollup, MetricSample
from models.rollups import Group


def _sample_groups(source: str, since: datetime, until: datetime, tool_id: int | None):
    query = MetricSample.select(MetricSample.created_at, MetricSample.data).where(
        (MetricSample.source == source) & (MetricSample.created_at >= since) & (MetricSample.created_at < until))
    if tool_id is not None:
        query = query.where(MetricSample.tool_id == tool_id)
    for created_at, data in query.order_by(MetricSample.created_at).tuples().iterator():
        yield created_at, Group.of_sample(data)


def _rollup_groups(source: str, since: datetime, until: datetime, tool_id: int | None):
    query = MetricRollup.select().where(
        (MetricRollup.source == source) & (MetricRollup.hour >= since) & (MetricRollup.hour < until))
    if tool_id is not None:
        query = query.where(MetricRollup.tool_id == tool_id)
    for rollup in query.order_by(MetricRollup.hour).iterator():
        yield rollup.hour, Group.of_rollup(rollup)


def series(source: str, since: datetime, until: datetime, step_s: int, tool_id: int | None) -> list[dict]:
    buckets: dict[int, Group] = {}
    for tier in (_rollup_groups, _sample_groups):
        for at, group in tier(source, since, until, tool_id):
            buckets.setdefault(int((at - since).total_seconds() // step_s), Group()).merge(group)
    points = []
    for index, bucket in sorted(buckets.items()):
        at = since + timedelta(seconds=index * step_s)
        points.append({"at": at.isoformat() + "+00:00", "samples": bucket.samples,
                       **{name: round(average, 3) for name, average in bucket.averages().items()},
                       "max": {name: round(value, 3) for name, value in bucket.maxima.items()}})
    return points
