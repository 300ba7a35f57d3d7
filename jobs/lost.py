"""Calls lost with their worker, as their callers saw them.

A synchronous call reaches its worker through the worker's own queue and lives only on that worker's MCP
loop until its reply: nothing is written before it (the hot path stays one round trip). A worker killed
meanwhile leaves no trace of the call. Its caller, reading no reply from a dead worker, answers worker_lost,
and notes the job here, in the same pipeline as the worker_lost event; a live worker then writes the call's
failed task row (workers/reaper.py `record_lost_calls`).
"""
from __future__ import annotations

import json

import redis

from config import Section
from jobs.keys import lost_jobs_key

LOST_MAX = 10000  # noted calls kept while no worker is alive to record them


def note(pipe, settings: Section, job: dict, worker_id: str | None, event: dict) -> None:
    """Queue the note of one lost job on `pipe` (sync or async pipeline; the caller executes it)."""
    name = lost_jobs_key(settings)
    pipe.lpush(name, json.dumps({"job": job, "worker_id": worker_id, "event": event}, default=str))
    pipe.ltrim(name, 0, LOST_MAX - 1)
    pipe.expire(name, settings.mcp.jobs.result_ttl_s)


def take_all(client: redis.Redis, settings: Section) -> list[dict]:
    """Every note, removed at once (two workers draining never both get one)."""
    pipe = client.pipeline(transaction=True)
    pipe.lrange(lost_jobs_key(settings), 0, -1)
    pipe.delete(lost_jobs_key(settings))
    entries, _ = pipe.execute()
    return [json.loads(entry) for entry in reversed(entries)]
