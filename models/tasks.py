"""Tasks: one row per job (lifecycle action, MCP call) and stored workflows of steps."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow

# "created": a stored workflow (a definition, not a job); its runs are jobs of kind workflow_run.
TASK_STATUSES = ("created", "queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATUSES = ("succeeded", "failed", "cancelled")


class Task(BaseModel):
    id = peewee.CharField(max_length=32, primary_key=True)
    kind = peewee.CharField(max_length=32, index=True)
    name = peewee.CharField(max_length=200, default="")
    tool_id = peewee.IntegerField(null=True, index=True)
    user_id = peewee.IntegerField(null=True, index=True)
    session_id = peewee.IntegerField(null=True)
    parent_id = peewee.CharField(max_length=32, null=True, index=True)
    status = peewee.CharField(max_length=16, default="queued", index=True)
    args = JSONField(null=True)
    result = JSONField(null=True)
    error = peewee.TextField(null=True)
    error_type = peewee.CharField(max_length=32, null=True)
    worker_id = peewee.CharField(max_length=64, null=True)
    definition = JSONField(null=True)  # workflows: steps / parallel groups
    schedule = peewee.CharField(max_length=100, null=True)  # workflows: cron expression
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    duration_ms = peewee.FloatField(null=True)
