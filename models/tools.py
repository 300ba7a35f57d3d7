"""Tools: the MCP servers the platform manages, with their last known live state."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow
from models.crypto import EncryptedJSONField

TRANSPORTS = ("stdio", "streamable_http", "sse")
STATUSES = ("STOPPED", "STARTING", "RUNNING", "STOPPING", "ERROR")


class Tool(BaseModel):
    name = peewee.CharField(max_length=64, unique=True)
    display_name = peewee.CharField(max_length=200, default="")
    description = peewee.TextField(default="")
    category = peewee.CharField(max_length=64, default="")
    tags = JSONField(default=list)
    transport = peewee.CharField(max_length=32)
    command = peewee.TextField(null=True)
    args = JSONField(default=list)
    env = EncryptedJSONField(null=True)
    cwd = peewee.TextField(null=True)
    url = peewee.TextField(null=True)
    headers = EncryptedJSONField(null=True)
    auto_start = peewee.BooleanField(default=False)
    restart_on_failure = peewee.BooleanField(default=True)
    max_restart_attempts = peewee.IntegerField(default=5)
    call_timeout_s = peewee.FloatField(default=60)
    memory_limit_mb = peewee.IntegerField(null=True)
    cpu_limit_percent = peewee.IntegerField(null=True)
    # desired_state is what users asked for; status is what the owning worker last saw.
    desired_state = peewee.CharField(max_length=16, default="stopped")
    status = peewee.CharField(max_length=16, default="STOPPED")
    pid = peewee.IntegerField(null=True)
    restart_count = peewee.IntegerField(default=0)
    last_error = peewee.TextField(null=True)
    started_at = peewee.DateTimeField(null=True)
    owner_worker = peewee.CharField(max_length=64, null=True)
    protocol_version = peewee.CharField(max_length=32, null=True)
    server_info = JSONField(null=True)
    capabilities = JSONField(null=True)
    instructions = peewee.TextField(null=True)
    mcp_tools = JSONField(default=list)
    mcp_resources = JSONField(default=list)
    mcp_prompts = JSONField(default=list)
    created_by = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
