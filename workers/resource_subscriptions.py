"""Resource subscriptions of one backend, shared by every client subscribed through the front doors.

A subscriber is a handshake-era client session or a 2026 `subscriptions/listen` stream (its id, as the
proxy names it). The server is subscribed to a URI while at least one subscriber wants it: the first
subscribe job subscribes on the server, the last unsubscribe unsubscribes. The set outlives the server's
connection (after a crash every URI is subscribed again) and, kept in Redis by the worker
(`resource_subscribers_key`), the session itself: a restarted or taken-over tool starts with it.

- Handshake-era servers: `resources/subscribe` / `resources/unsubscribe`, when they offer subscriptions.
- 2026-era servers: one `subscriptions/listen` stream naming every URI, reopened when the set changes (a
  subscribe answers once the new stream is acknowledged, so no update after it is missed).

The updates themselves arrive as `notifications/resources/updated` (both eras; the listen stream's are
teed to the message handler too): ToolSession passes them on, and the worker publishes them to Redis.
"""
from __future__ import annotations

import asyncio
import logging

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

log = logging.getLogger("mcps.tool")
SUBSCRIPTION_KINDS = ("subscribe_resource", "unsubscribe_resource")


class ResourceSubscriptions:
    def __init__(self, session, subscribers: dict[str, set[str]] | None = None, save=None):
        self.session = session  # the ToolSession: its current client and its log
        self.subscribers: dict[str, set[str]] = subscribers or {}
        self._save = save  # async save(uri, subscribers): remember a URI's subscribers (empty: forget it)
        self._changed = asyncio.Event()
        self._acknowledged: list[asyncio.Future] = []  # subscribes waiting for the next listen stream

    @property
    def uris(self) -> set[str]:
        return set(self.subscribers)

    async def change(self, kind: str, uri: str, subscriber: str) -> dict:
        """A subscribe or unsubscribe job: counted here, passed to the server on the first and the last."""
        if kind == "subscribe_resource":
            first = uri not in self.subscribers
            self.subscribers.setdefault(uri, set()).add(subscriber)
            if first:
                await self._server_subscription(uri, subscribe=True)
        else:
            subscribers = self.subscribers.get(uri, set())
            subscribers.discard(subscriber)
            if not subscribers and self.subscribers.pop(uri, None) is not None:
                await self._server_subscription(uri, subscribe=False)
        if self._save is not None:
            await self._save(uri, self.subscribers.get(uri, set()))
        return {}

    async def follow(self, client) -> None:
        """For the life of one connection (never returns): subscribe again to every URI wanted, and on a
        2026-era server keep the listen stream of those URIs open."""
        if client is None:
            await asyncio.Event().wait()
        if client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
            for uri in sorted(self.subscribers):
                try:
                    await self._handshake_subscription(client, uri, subscribe=True)
                except Exception as exc:  # that URI goes unheard; the connection itself is fine
                    self.session.log_line("WARNING", "lifecycle", f"subscribing again to {uri} failed: {exc}")
            await asyncio.Event().wait()
        while True:
            self._changed.clear()
            uris = frozenset(self.subscribers)
            if uris:
                await self._listen(client, uris)
            else:
                self._acknowledge(uris)
            await self._changed.wait()

    async def _listen(self, client, uris: frozenset) -> None:
        """One listen stream for `uris`, until the set changes or the stream ends."""
        try:
            async with client.listen(resource_subscriptions=sorted(uris)) as subscription:
                self._acknowledge(uris)
                drain = asyncio.ensure_future(_drain(subscription))
                changed = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait((drain, changed), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    drain.cancel()
                    changed.cancel()
        except Exception as exc:  # not offered, or the stream dropped: heard of again on the next change
            self.session.log_line("DEBUG", "lifecycle", f"resource subscription stream: {type(exc).__name__}: {exc}")
            self._acknowledge(uris)

    def _acknowledge(self, uris: frozenset) -> None:
        """A stream for `uris` is open (or could not be): the subscribes that waited for it answer. Each
        waited for a set taken before this stream opened, so the stream names its URI unless unsubscribed."""
        for waiter in self._acknowledged:
            if not waiter.done():
                waiter.set_result(None)
        self._acknowledged.clear()

    async def _server_subscription(self, uri: str, subscribe: bool) -> None:
        client = self.session.client
        if client is None:  # restarting: `follow` subscribes on the next connection
            return
        if client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
            await self._handshake_subscription(client, uri, subscribe)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._acknowledged.append(waiter)
        self._changed.set()
        if subscribe:
            await waiter  # the stream naming this URI is open (the job's timeout bounds the wait)

    async def _handshake_subscription(self, client, uri: str, subscribe: bool) -> None:
        caps = client.server_capabilities
        if caps is None or caps.resources is None or not caps.resources.subscribe:
            return  # the server sends no updates: the subscription stays ours only
        if subscribe:
            await client.session.subscribe_resource(uri)
        else:
            await client.session.unsubscribe_resource(uri)


async def _drain(subscription) -> None:
    """Consume the stream's events (their notifications were teed to the message handler already)."""
    async for _event in subscription:
        pass

