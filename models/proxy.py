"""What the MCP front door serves beyond the running tools: virtual servers and its live settings.

Both are edited through /api/v1/proxy (admins) and read by every proxy process, which applies a change
without restarting (api/mcp_proxy/control.py).
"""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField, utcnow


class VirtualServer(BaseModel):
    """A named subset of the running tools, served at /mcp/servers/<name>.

    `members`: one entry per tool, by id (as API keys' scopes: renaming a tool moves nothing), each
    `{"tool_id": 3, "include": null | [mcp tool names], "hidden": [names], "renames": {name: new name},
    "descriptions": {name: text}}`; names are the server's own MCP tool names."""

    name = peewee.CharField(max_length=64, unique=True)
    description = peewee.TextField(default="")
    members = JSONField(default=list)
    created_by = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class ProxySetting(BaseModel):
    """A front door setting changed at run time (`naming`), overriding config's `mcp.proxy.*`."""

    name = peewee.CharField(max_length=64, primary_key=True)
    value = JSONField()
    updated_at = peewee.DateTimeField(default=utcnow)


def forget_tool_in_virtual_servers(tool_id: int) -> None:
    """Take a deleted tool out of every virtual server: SQLite may give its id to the next tool created.
    (Call in the transaction that deletes the tool.)"""
    for server in VirtualServer.select():
        kept = [member for member in server.members or [] if member.get("tool_id") != tool_id]
        if len(kept) != len(server.members or []):
            VirtualServer.update(members=kept, updated_at=utcnow()).where(VirtualServer.id == server.id).execute()


def read_config(default_naming: str) -> dict:
    """The front door's live config as stored: {"naming": ..., "virtual_servers": [{name, description,
    members}, ...]}, the naming policy falling back to config's `mcp.proxy.naming`."""
    naming = ProxySetting.get_or_none(ProxySetting.name == "naming")
    servers = VirtualServer.select().order_by(VirtualServer.name)
    return {"naming": naming.value if naming is not None else default_naming,
            "virtual_servers": [{"name": s.name, "description": s.description, "members": s.members or []}
                                for s in servers]}
