"""Which worker processes are alive: each one refreshes its own heartbeat key with a TTL.

Keys: `<ns>:worker:<id>` = JSON {id, pid, host, started_at, tools} with a TTL of the lease, and
`<ns>:workers` a set of ids ever seen (pruned by readers). A key that expired is a dead worker.
"""
from __future__ import annotations

import json

import redis

from config import Section
from jobs.keys import worker_key, workers_key


def worker_queue(worker_id: str) -> str:
    """The Dramatiq queue only this worker consumes (tool calls and lifecycle of the tools it owns)."""
    return f"worker.{worker_id}"


def beat(pipe: redis.client.Pipeline, settings: Section, info: dict) -> None:
    """Queue the heartbeat of one worker on `pipe` (the caller executes it)."""
    pipe.set(worker_key(settings, info["id"]), json.dumps(info), px=settings.mcp.worker.lease_ttl_ms)
    pipe.sadd(workers_key(settings), info["id"])


def is_alive(client: redis.Redis, settings: Section, worker_id: str) -> bool:
    return bool(client.exists(worker_key(settings, worker_id)))


def known_worker_ids(client: redis.Redis, settings: Section) -> set[str]:
    return {member.decode() for member in client.smembers(workers_key(settings))}


def live_workers(client: redis.Redis, settings: Section) -> list[dict]:
    """Every worker whose heartbeat has not expired, as the dicts they published."""
    ids = sorted(known_worker_ids(client, settings))
    if not ids:
        return []
    values = client.mget([worker_key(settings, worker_id) for worker_id in ids])
    return [json.loads(value) for value in values if value]


def forget(client: redis.Redis, settings: Section, worker_id: str) -> None:
    client.srem(workers_key(settings), worker_id)
