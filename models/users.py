"""People and the API keys they hand to MCP clients."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow

ROLES = ("admin", "operator", "viewer")


class User(BaseModel):
    username = peewee.CharField(max_length=64, unique=True)
    email = peewee.CharField(max_length=255, null=True)
    password_hash = peewee.CharField(max_length=255)
    role = peewee.CharField(max_length=16, default="viewer")
    is_active = peewee.BooleanField(default=True)
    failed_logins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)
    last_login_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class ApiKey(BaseModel):
    """Only a SHA-256 of the key is stored: keys are 256-bit random, so a fast hash is safe here."""

    user = peewee.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    prefix = peewee.CharField(max_length=16, index=True)
    key_hash = peewee.CharField(max_length=64, unique=True)
    tool_scope = JSONField(null=True)  # list of tool ids (not names: renames keep rights), null: every tool
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)
    last_used_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
