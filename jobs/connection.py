"""Redis connections from settings, and waiting for Redis to come up at process start."""
from __future__ import annotations

import time

import redis
import redis.asyncio

from config import Section


def redis_client(settings: Section, **options) -> redis.Redis:
    """A client for the configured Redis (embedded unix socket or REDIS_URL)."""
    return redis.Redis.from_url(settings.redis.url, health_check_interval=30, **options)


def aredis_client(settings: Section, **options) -> redis.asyncio.Redis:
    """An asyncio client (the workers' MCP loop, the MCP proxy), on the same Redis."""
    return redis.asyncio.Redis.from_url(settings.redis.url, health_check_interval=30, **options)


def wait_for_redis(client: redis.Redis, timeout_s: float = 15.0) -> None:
    """Block until Redis answers (processes start together under honcho); raise after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
