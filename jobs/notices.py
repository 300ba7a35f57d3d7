"""Notices: what workers tell every MCP front door at once, over Redis pub/sub (jobs/keys.py channels).

- `tool_changes_channel`: {"tool_id", "reason"} when a tool started, stopped or one of its MCP lists
  changed, published after the tool's row says so (a proxy reloads its catalog from that row).
- `resource_updates_channel`: {"tool_id", "uri"} when a server sent `notifications/resources/updated`
  for a URI that some client subscribed to (the URI as the server names it; each proxy renames it).

Pub/sub and not a stream: a notice is a level trigger ("refetch if you care"), worth nothing to a process
that was not listening when it was sent, and every proxy process wants every notice. A proxy that missed
one still catches up: its catalog poll is the safety net.
"""
from __future__ import annotations

import json

from config import Section
from jobs.keys import resource_updates_channel, tool_changes_channel


def tool_changed(client, settings: Section, tool_id: int, reason: str):
    """Publish a tool change (sync client: returns the count of listeners; async client: an awaitable)."""
    return client.publish(tool_changes_channel(settings), json.dumps({"tool_id": tool_id, "reason": reason}))


def resource_updated(client, settings: Section, tool_id: int, uri: str):
    return client.publish(resource_updates_channel(settings), json.dumps({"tool_id": tool_id, "uri": uri}))


def decode(message: dict) -> tuple[str, dict] | None:
    """A pub/sub message as ("tools" | "resources", notice), or None for anything else."""
    if message.get("type") != "message":
        return None
    channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
    try:
        notice = json.loads(message["data"])
    except (TypeError, ValueError):
        return None
    return ("resources" if channel.endswith(":resources") else "tools"), notice
