"""Metric samples: host, tool processes, queues and job rates, one row per source per sampling.

Two tiers: `MetricSample` holds each sampling (every monitoring.interval_s) for monitoring.raw_keep_hours;
beyond that, retention folds them into `MetricRollup` rows, one per source (and tool) per hour, holding
the average and the maximum of every numeric field, kept for monitoring.keep_days (models.rollups).
"""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow

SOURCES = ("host", "tool", "queues", "jobs")


class MetricSample(BaseModel):
    source = peewee.CharField(max_length=16, index=True)
    tool_id = peewee.IntegerField(null=True, index=True)
    data = JSONField()
    created_at = peewee.DateTimeField(default=utcnow, index=True)


class MetricRollup(BaseModel):
    """The samples of one source (one tool) in one hour: `data` their averages, `maxima` their maxima,
    both by field (nested fields dotted: queues' {"lifecycle": 3} is "lifecycle"; a dict in a dict "a.b")."""
    source = peewee.CharField(max_length=16)
    tool_id = peewee.IntegerField(null=True)
    hour = peewee.DateTimeField(index=True)  # the start of the hour (UTC)
    samples = peewee.IntegerField()
    data = JSONField()
    maxima = JSONField()
    partial = JSONField(null=True)  # {field: samples that had it} for the fields some samples lacked

    class Meta:
        indexes = ((("source", "hour", "tool_id"), False),)
