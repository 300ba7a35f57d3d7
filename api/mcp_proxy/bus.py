"""One Redis pub/sub connection per proxy process, for every channel it hears: the control channel ("look
again now", control.py), the process's own inbox (answers for the legacy SSE streams it holds, sse.py) and
the workers' notices (tool changes, resource updates: notices.py).

Subscribed before the process serves anything, so that no SSE stream is announced before its answers
can arrive. A dropped connection is re-established; what was published meanwhile is lost, as it is for
a client whose stream dropped (the heartbeat still applies control changes within a period, and
`on_reconnect` lets the catalog reload at once).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Iterable

import redis

log = logging.getLogger("mcps.proxy")
Handler = Callable[[bytes], Awaitable[None]]


class Bus:
    def __init__(self, redis_client, handlers: dict[str, Handler],
                 on_reconnect: Iterable[Callable[[], None]] = ()):
        self.redis = redis_client
        self.handlers = handlers
        self.on_reconnect = list(on_reconnect)  # after a lost connection is subscribed again
        self.subscribed = asyncio.Event()  # set while the channels are subscribed
        self._pubsub = None

    async def subscribe(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(*self.handlers)
        self.subscribed.set()

    async def run(self) -> None:
        while True:
            try:
                if self._pubsub is None:
                    await self.subscribe()
                    for caught_up in self.on_reconnect:
                        caught_up()
                while True:
                    message = await self._pubsub.get_message(timeout=None)
                    if message is None or message.get("type") != "message":
                        continue
                    handler = self.handlers.get(message["channel"].decode())
                    if handler is not None:
                        try:
                            await handler(message["data"])
                        except Exception:  # one bad message must not stop the process hearing the next
                            log.exception("event=proxy.bus_handler_failed channel=%s", message["channel"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                log.warning("event=proxy.bus_reconnect error=%r", error)
                await self.close()
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        self.subscribed.clear()
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except (redis.RedisError, OSError):
                pass
            self._pubsub = None

    async def publish(self, channel: str, data: bytes) -> int:
        """Publish; the number of processes that heard it (0: none is listening)."""
        return await self.redis.publish(channel, data)
