"""Metric samples: host, tool processes, queues and job rates, one row per source per sampling."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow

SOURCES = ("host", "tool", "queues", "jobs")


class MetricSample(BaseModel):
    source = peewee.CharField(max_length=16, index=True)
    tool_id = peewee.IntegerField(null=True, index=True)
    data = JSONField()
    created_at = peewee.DateTimeField(default=utcnow, index=True)
