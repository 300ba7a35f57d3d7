"""Where an MCP client's calls are recorded in the call history (sessions and messages), as a REST call's.

A REST call without a `session_id` lands in its user's automatic session (workers/history.py). Through
the front door the principal decides: a caller with an access JWT is that user, and their calls go to the
same automatic session; a caller with an API key is one client (Cursor, an agent), and its calls go to a
session of its own, "MCP client: <key name> (key <id>)", created on its first call. Either way the
worker records the call after the reply (the job's session_id), like any other.

The session id is remembered for CACHE_S: a session deleted meanwhile is found again (or made anew) at
most that much later.
"""
from __future__ import annotations

import asyncio
import time

from api.mcp_proxy.auth import Caller
from models import Session

CACHE_S = 10.0


def session_name(api_key) -> str:
    return f"MCP client: {api_key.name} (key {api_key.id})"


class HistorySessions:
    def __init__(self):
        self._known: dict[int, tuple[int, float]] = {}  # api key id -> (session id, when looked up)

    async def session_for(self, caller: Caller) -> int | None:
        """The session the caller's calls are recorded in (None: the user's automatic session)."""
        api_key = caller.api_key
        if api_key is None:
            return None
        known = self._known.get(api_key.id)
        if known is not None and time.monotonic() - known[1] < CACHE_S:
            return known[0]
        session_id = await asyncio.to_thread(_find_or_create, caller.user_id, api_key)
        self._known[api_key.id] = (session_id, time.monotonic())
        return session_id


def _find_or_create(user_id: int, api_key) -> int:
    name = session_name(api_key)
    session = Session.select(Session.id).where((Session.user_id == user_id) & (Session.name == name)) \
        .order_by(Session.id).first()
    if session is None:
        session = Session.create(user_id=user_id, name=name, metadata={"mcp_api_key_id": api_key.id},
                                 description="Calls made through the MCP front door with this API key")
    return session.id
