"""A proxy process's heartbeat: every `mcp.proxy.heartbeat_s` (and at once when the control channel says
so) it reads the platform-wide switches, applies them, and publishes what it is doing (control.py).

- serving: while the front door is stopped, no new session opens (app.py and sse.py ask `serving`);
  sessions already open keep being served, so that stopping drains instead of cutting clients off.
- config: a newer generation reloads the naming policy and the virtual servers from the database into
  the catalog, with no restart.
- settings: a newer generation of the run-time settings (PUT/PATCH /api/v1/system/config) reloads them
  (models.runtime_settings) and hands them to `on_settings`: the call budget and wait limit of the next
  calls follow. The heartbeat says which generation the process applied (`settings_generation`).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from typing import Callable

import redis
from mcp_types import INVALID_REQUEST

from api.mcp_proxy import control, wire
from api.mcp_proxy.catalog import Catalog
from api.mcp_proxy.metering import Meter
from api.mcp_proxy.virtual import VirtualServer
from config import Section
from jobs.keys import config_generation_key
from models.proxy import read_config
from models.runtime_settings import LiveSettings, apply_log_level

log = logging.getLogger("mcps.proxy")


def load_catalog_config(settings: Section) -> tuple[str, dict[str, VirtualServer]]:
    config = read_config(settings.mcp.proxy.naming)
    return config["naming"], {server["name"]: VirtualServer.from_row(**server) for server in config["virtual_servers"]}


class Heartbeat:
    def __init__(self, settings: Section, redis_client, meter: Meter, catalog: Catalog, process_id: str,
                 listen: str, sse_streams: Callable[[], int],
                 on_settings: Callable[[Section], None] | None = None):
        self.settings = settings
        self.redis = redis_client
        self.meter = meter
        self.catalog = catalog
        self.process_id = process_id
        self.listen = listen
        self.sse_streams = sse_streams
        self.interval_s = settings.mcp.proxy.heartbeat_s
        self.serving = True
        self.generation: int | None = None
        self.settings_generation: int | None = None  # as read from Redis; LiveSettings reloads when it moved
        self.live = LiveSettings(settings, lambda: self.settings_generation)
        self.applied_settings = settings
        self._settings_followed: int | None = None
        self.on_settings = on_settings
        self.started_at = time.time()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def beat(self) -> None:
        async with self._lock:
            settings = self.settings
            serving, generation, settings_generation = await self.redis.mget(
                control.serving_key(settings), control.generation_key(settings), config_generation_key(settings))
            await self.follow_settings(int(settings_generation or 0))
            if (serving != b"0") != self.serving:
                self.serving = serving != b"0"
                log.info("event=proxy.%s process=%s", "serving" if self.serving else "draining", self.process_id)
            generation = int(generation or 0)
            if generation != self.generation:
                naming, servers = await asyncio.to_thread(load_catalog_config, settings)
                await self.catalog.configure(naming, servers)
                self.generation = generation
            name = control.process_key(settings, self.process_id)
            snapshot = self.meter.snapshot()
            fields = {**snapshot, "recent_ms": json.dumps(snapshot["recent_ms"]), "id": self.process_id,
                      "pid": os.getpid(), "host": socket.gethostname(), "listen": self.listen,
                      "started_at": self.started_at, "last_seen": time.time(), "serving": int(self.serving),
                      "config_generation": self.generation, "naming": self.catalog.naming,
                      "settings_generation": self.live.generation,
                      "virtual_servers": ",".join(sorted(self.catalog.virtual_servers)),
                      "sse_streams": self.sse_streams()}
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(name, mapping=fields)
            pipe.expire(name, max(1, int(self.interval_s * control.HEARTBEATS_TO_EXPIRE + 0.999)))
            pipe.sadd(control.processes_key(settings), self.process_id)
            await pipe.execute()

    async def follow_settings(self, generation: int) -> None:
        """Reload the run-time settings when their generation moved (the database read off the loop)."""
        self.settings_generation = generation
        if generation == self._settings_followed:
            return
        current = await asyncio.to_thread(self.live.refresh)
        if self.live.generation == generation:  # else the reload failed (logged): tried again next beat
            self._settings_followed = generation
        if current is not self.applied_settings:
            self.applied_settings = current
            apply_log_level(current)
            if self.on_settings is not None:
                self.on_settings(current)
            log.info("event=proxy.settings_applied process=%s generation=%s", self.process_id, self.live.generation)

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.beat()
            except (redis.RedisError, OSError) as error:  # Redis briefly away: keep the last state
                log.warning("event=proxy.heartbeat_failed error=%r", error)
            except Exception:
                log.exception("event=proxy.heartbeat_failed")

    async def on_control(self, _data: bytes) -> None:
        self._wake.set()

    async def forget(self) -> None:
        """At shutdown: the process leaves the status at once rather than when its heartbeat expires."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(control.process_key(self.settings, self.process_id))
        pipe.srem(control.processes_key(self.settings), self.process_id)
        await pipe.execute()



async def refuse_while_stopped(send, request_id) -> None:
    """The answer to a new session (or a 2026-era request, each one a session of its own) while stopped."""
    error = wire.RpcError(INVALID_REQUEST, "the MCP front door is stopped: no new sessions, retry later")
    await wire.send_json(send, 503, error.body(request_id), [(b"retry-after", b"5")])
