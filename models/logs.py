"""Log entries: system, operations (who did what) and mcp (tool stderr and lifecycle events)."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow

CATEGORIES = ("system", "operations", "mcp")


class LogEntry(BaseModel):
    category = peewee.CharField(max_length=16, index=True)
    level = peewee.CharField(max_length=8, default="INFO")
    tool_id = peewee.IntegerField(null=True, index=True)
    task_id = peewee.CharField(max_length=32, null=True)
    user_id = peewee.IntegerField(null=True)
    source = peewee.CharField(max_length=32, default="")  # stderr | lifecycle | api ...
    message = peewee.TextField()
    data = JSONField(null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
