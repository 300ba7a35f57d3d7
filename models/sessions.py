"""Sessions and their messages: the history of every tool call."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow


class Session(BaseModel):
    user_id = peewee.IntegerField(index=True)
    name = peewee.CharField(max_length=200, default="")
    description = peewee.TextField(default="")
    is_auto = peewee.BooleanField(default=False)
    metadata = JSONField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    last_activity_at = peewee.DateTimeField(default=utcnow, index=True)


class Message(BaseModel):
    session = peewee.ForeignKeyField(Session, backref="messages", on_delete="CASCADE")
    user_id = peewee.IntegerField(null=True)
    tool_id = peewee.IntegerField(null=True)
    tool_name = peewee.CharField(max_length=200, default="")
    arguments = JSONField(null=True)
    result_summary = peewee.TextField(null=True)
    status = peewee.CharField(max_length=16)
    is_error = peewee.BooleanField(default=False)
    duration_ms = peewee.FloatField(null=True)
    task_id = peewee.CharField(max_length=32, null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
