"""What the workers announce, heard by this proxy process (jobs/notices.py), on the process's one Redis
pub/sub connection (bus.Bus): this module gives it the handlers of the two channels.

- A tool change (started, stopped, its lists changed) reloads the catalog at once, so clients get their
  `notifications/*/list_changed` within milliseconds instead of at the next poll (the catalog's slow poll
  stays, as the safety net for a notice this process missed while Redis or it was away; after the bus
  reconnects the catalog is reloaded at once).
- A resource update goes to every open stream of this process (GET streams of handshake-era sessions,
  2026 `subscriptions/listen` streams); each decides whether its client subscribed to that URI.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from api.mcp_proxy.catalog import Catalog
from config import Section
from jobs import notices
from jobs.keys import resource_updates_channel, tool_changes_channel

log = logging.getLogger("mcps.proxy")

ResourceListener = Callable[[int, str], Awaitable[None]]  # (tool id, URI as the server names it)


class NoticeListener:
    def __init__(self, settings: Section, catalog: Catalog):
        self.settings = settings
        self.catalog = catalog
        self._resource_listeners: set[ResourceListener] = set()

    def handlers(self) -> dict[str, Callable[[bytes], Awaitable[None]]]:
        """{channel: handler} for the bus."""
        return {tool_changes_channel(self.settings): self._on_tool_change,
                resource_updates_channel(self.settings): self._on_resource_update}

    def on_resource_updated(self, listener: ResourceListener) -> Callable[[], None]:
        self._resource_listeners.add(listener)
        return lambda: self._resource_listeners.discard(listener)

    def caught_up(self) -> None:
        """The bus was away and is back: whatever changed meanwhile, the catalog reloads now."""
        self.catalog.refresh_soon()

    async def _on_tool_change(self, data: bytes) -> None:
        self.catalog.refresh_soon()

    async def _on_resource_update(self, data: bytes) -> None:
        decoded = notices.decode({"type": "message", "channel": resource_updates_channel(self.settings), "data": data})
        notice = decoded[1] if decoded is not None else None
        if isinstance(notice, dict) and isinstance(notice.get("tool_id"), int) and isinstance(notice.get("uri"), str):
            # Not awaited: the bus goes on to its next message while slow streams are written to.
            asyncio.get_running_loop().create_task(self._fan_out(notice["tool_id"], notice["uri"]))

    async def _fan_out(self, tool_id: int, uri: str) -> None:
        for listener in list(self._resource_listeners):
            try:
                await listener(tool_id, uri)
            except Exception:  # one broken stream must not stop the others hearing of it
                log.exception("event=proxy.resource_listener_failed tool=%s", tool_id)
