"""What the workers announce, heard by this proxy process (jobs/notices.py): one Redis pub/sub connection
for both channels.

- A tool change (started, stopped, its lists changed) reloads the catalog at once, so clients get their
  `notifications/*/list_changed` within milliseconds instead of at the next poll (the catalog's slow poll
  stays, as the safety net for a notice this process missed while Redis or it was away).
- A resource update goes to every open stream of this process (GET streams of handshake-era sessions,
  2026 `subscriptions/listen` streams); each decides whether its client subscribed to that URI.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import redis.exceptions

from api.mcp_proxy.catalog import Catalog
from config import Section
from jobs import notices
from jobs.keys import resource_updates_channel, tool_changes_channel

log = logging.getLogger("mcps.proxy")
RECONNECT_S = 1.0

ResourceListener = Callable[[int, str], Awaitable[None]]  # (tool id, URI as the server names it)


class NoticeListener:
    def __init__(self, redis, settings: Section, catalog: Catalog):
        self.redis = redis
        self.settings = settings
        self.catalog = catalog
        self._resource_listeners: set[ResourceListener] = set()
        self.subscribed = asyncio.Event()  # set once the channels are subscribed (tests, start-up)

    def on_resource_updated(self, listener: ResourceListener) -> Callable[[], None]:
        self._resource_listeners.add(listener)
        return lambda: self._resource_listeners.discard(listener)

    async def run(self) -> None:
        while True:
            try:
                await self._listen()
            except (redis.exceptions.RedisError, OSError) as error:
                log.warning("event=proxy.notices_lost error=%r", str(error))
            self.subscribed.clear()
            await asyncio.sleep(RECONNECT_S)
            self.catalog.refresh_soon()  # whatever changed while we were not listening

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(tool_changes_channel(self.settings), resource_updates_channel(self.settings))
            self.subscribed.set()
            async for message in pubsub.listen():
                decoded = notices.decode(message)
                if decoded is None:
                    continue
                kind, notice = decoded
                if kind == "tools":
                    self.catalog.refresh_soon()
                elif isinstance(notice.get("tool_id"), int) and isinstance(notice.get("uri"), str):
                    asyncio.get_running_loop().create_task(self._fan_out(notice["tool_id"], notice["uri"]))
        finally:
            await pubsub.aclose()

    async def _fan_out(self, tool_id: int, uri: str) -> None:
        for listener in list(self._resource_listeners):
            try:
                await listener(tool_id, uri)
            except Exception:  # one broken stream must not stop the others hearing of it
                log.exception("event=proxy.resource_listener_failed tool=%s", tool_id)
