"""Handshake-era sessions (`initialize` + `Mcp-Session-Id`), kept in Redis so that any proxy process
serves any request of a session.

A session is one hash `<ns>:mcp:session:<id>` (negotiated version, client capabilities and info, log
level, who owns it, which endpoint it was opened on) and a set `...:subs` of subscribed resource URIs,
both expiring after `session_ttl_s` without a request. Reading a session also renews it: one pipelined
round trip. The sorted set `<ns>:mcp:sessions` holds every session by its expiry time, for counting them
(/api/v1/proxy/status). 2026-era requests have no session at all.

Opening and closing a session is a live `proxy` event (jobs.live_events): who (user, API key), the client's
info, the transport (`streamable_http` or the legacy `sse`); the opening rides the creating round trip.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from api.mcp_proxy.control import sessions_index_key
from config import Section
from jobs import live_events
from jobs.keys import key

log = logging.getLogger("mcps.proxy")
# The levels of notifications/message, least to most severe (RFC 5424 as MCP uses them).
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


@dataclass(frozen=True)
class HandshakeSession:
    id: str
    protocol_version: str
    principal: str
    endpoint: str  # "" for /mcp, the tool's name for /mcp/tools/<tool>
    client_capabilities: dict
    client_info: dict
    log_level: str | None

    def wants_log(self, level: str) -> bool:
        return self.log_level is not None and _rank(level) >= _rank(self.log_level)


def _rank(level: str) -> int:
    return LOG_LEVELS.index(level) if level in LOG_LEVELS else 1


class SessionStore:
    def __init__(self, redis, settings: Section):
        self.redis = redis
        self.settings = settings
        self.ttl_s = settings.mcp.proxy.session_ttl_s
        self.index = sessions_index_key(settings)

    def _key(self, session_id: str, *parts: str) -> str:
        return key(self.settings, "mcp", "session", session_id, *parts)

    async def create(self, protocol_version: str, principal: str, endpoint: str, client_capabilities: dict,
                     client_info: dict, user_id: int | None = None, api_key_id: int | None = None,
                     transport: str = "streamable_http") -> HandshakeSession:
        session = HandshakeSession(id=secrets.token_hex(16), protocol_version=protocol_version, principal=principal,
                                   endpoint=endpoint, client_capabilities=client_capabilities,
                                   client_info=client_info, log_level=None)
        name = self._key(session.id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(name, mapping={"version": protocol_version, "principal": principal, "endpoint": endpoint,
                                 "capabilities": json.dumps(client_capabilities), "client": json.dumps(client_info),
                                 "created": time.time(), "user_id": "" if user_id is None else user_id,
                                 "api_key_id": "" if api_key_id is None else api_key_id, "transport": transport})
        pipe.expire(name, self.ttl_s)
        pipe.zadd(self.index, {session.id: time.time() + self.ttl_s})
        live_events.append(pipe, self.settings, *session_event("opened", session.id, transport, protocol_version,
                                                                endpoint, client_info, user_id, api_key_id))
        await pipe.execute()
        return session

    async def get(self, session_id: str) -> HandshakeSession | None:
        name = self._key(session_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(name)
        pipe.expire(name, self.ttl_s)
        pipe.expire(self._key(session_id, "subs"), self.ttl_s)
        pipe.zadd(self.index, {session_id: time.time() + self.ttl_s}, xx=True)
        fields, *_ = await pipe.execute()
        if not fields:
            return None
        level = fields.get(b"log_level")
        return HandshakeSession(id=session_id, protocol_version=fields[b"version"].decode(),
                                principal=fields[b"principal"].decode(), endpoint=fields[b"endpoint"].decode(),
                                client_capabilities=json.loads(fields[b"capabilities"]),
                                client_info=json.loads(fields[b"client"]),
                                log_level=level.decode() if level else None)

    async def set_log_level(self, session_id: str, level: str) -> None:
        await self.redis.hset(self._key(session_id), "log_level", level)

    async def subscribe(self, session_id: str, uri: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self._key(session_id, "subs"), uri)
        pipe.expire(self._key(session_id, "subs"), self.ttl_s)
        await pipe.execute()

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        await self.redis.srem(self._key(session_id, "subs"), uri)

    async def subscriptions(self, session_id: str) -> set[str]:
        return {uri.decode() for uri in await self.redis.smembers(self._key(session_id, "subs"))}

    async def remember_request(self, session_id: str, request_id, job_id: str) -> None:
        """Which job serves a request, so that a `notifications/cancelled` reaching any process cancels it."""
        await self.redis.set(self._key(session_id, "req", json.dumps(request_id)), job_id, ex=self.ttl_s)

    async def job_for(self, session_id: str, request_id) -> str | None:
        job_id = await self.redis.get(self._key(session_id, "req", json.dumps(request_id)))
        return job_id.decode() if job_id else None

    async def remember_question(self, session_id: str, request_id: str, job_id: str, ttl_s: float) -> None:
        """A backend's question sent to this session's client (as a JSON-RPC request of id `request_id`):
        its response, reaching any proxy process, goes to that job."""
        await self.redis.set(self._key(session_id, "ask", request_id), job_id, ex=max(int(ttl_s), 1))

    async def take_question(self, session_id: str, request_id: str) -> str | None:
        """The job that asked `request_id` on this session (once: a second response finds nothing)."""
        job_id = await self.redis.getdel(self._key(session_id, "ask", request_id))
        return job_id.decode() if job_id else None

    async def delete(self, session_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._key(session_id))
        pipe.delete(self._key(session_id), self._key(session_id, "subs"))
        pipe.zrem(self.index, session_id)
        fields, deleted, _ = await pipe.execute()
        if deleted and fields:  # (a session deleted twice, by two processes, is told closed once)
            field = {name.decode(): value.decode() for name, value in fields.items()}
            await live_events.publish_async(self.redis, self.settings, *session_event(
                "closed", session_id, field.get("transport") or "streamable_http", field.get("version", ""),
                field.get("endpoint", ""), json.loads(field.get("client") or "{}"), _int(field.get("user_id")),
                _int(field.get("api_key_id"))))
        return bool(deleted)


def session_event(event: str, session_id: str, transport: str, protocol_version: str, endpoint: str,
                  client_info: dict, user_id: int | None, api_key_id: int | None, era: str = "handshake") -> tuple:
    """A `proxy` live event: a front door session opened or closed, owned by `user_id`."""
    client_info = client_info if isinstance(client_info, dict) else {}
    return "proxy", {"event": event, "session": session_id, "transport": transport, "era": era,
                     "protocol_version": protocol_version, "endpoint": endpoint or "/mcp",
                     "client": {"name": str(client_info.get("name") or "")[:200],
                                "version": str(client_info.get("version") or "")[:200]},
                     "api_key_id": api_key_id}, None, user_id


async def tell_listening(redis, settings: Section, event: str, listen_id: str, caller, protocol_version: str,
                         endpoint: str, client_info: dict) -> None:
    """A 2026-07-28 client's one lasting connection, a `subscriptions/listen` stream, opened or closed: a
    `proxy` event as a session's (its requests stand alone: nothing else is a connection)."""
    try:
        await live_events.publish_async(redis, settings, *session_event(
            event, listen_id, "streamable_http", protocol_version, endpoint, client_info, caller.user_id,
            caller.api_key_id, era="2026-07-28"))
    except RedisError as error:  # best effort: the stream serves its client anyway
        log.warning("event=live_event.publish_failed kind=proxy error=%r", str(error))


def _int(value: str | None) -> int | None:
    return int(value) if value else None
