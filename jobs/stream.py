"""The result stream of a job: a capped Redis stream `<ns>:job:<id>` with a TTL.

The worker appends progress, log and input-request events and one final `result` event; callers block
on XREAD. One stream per job keeps waiting cheap (no polling) and lets a late reader (SSE,
GET /tasks/<id>) replay everything. Readers exist for both sides: redis (sync) and redis.asyncio.
"""
from __future__ import annotations

import json
from typing import Iterator

import redis

from config import Section
from jobs.events import FINAL
from jobs.keys import stream_key

FINAL_EVENT = FINAL
READ_COUNT = 100


def encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)


def publish(pipe, settings: Section, job_id: str, event: dict) -> None:
    """Queue one event on `pipe` (a pipeline, sync or async): XADD capped + refresh the TTL."""
    name = stream_key(settings, job_id)
    pipe.xadd(name, {"e": encode(event)}, maxlen=settings.mcp.jobs.stream_maxlen, approximate=True)
    pipe.expire(name, settings.mcp.jobs.result_ttl_s)


def publish_now(client: redis.Redis, settings: Section, job_id: str, event: dict) -> None:
    pipe = client.pipeline(transaction=False)
    publish(pipe, settings, job_id, event)
    pipe.execute()


def decode_reply(reply) -> list[tuple[str, dict]]:
    """(entry id, event) pairs of an XREAD reply on one stream."""
    if not reply or isinstance(reply, Exception):
        return []
    return [(entry_id.decode(), json.loads(fields[b"e"])) for entry_id, fields in reply[0][1]]


def read(client: redis.Redis, settings: Section, job_id: str, after: str = "0",
         block_ms: int | None = None) -> list[tuple[str, dict]]:
    """Events after stream id `after` (blocking up to block_ms if there are none yet)."""
    return decode_reply(client.xread({stream_key(settings, job_id): after}, block=block_ms, count=READ_COUNT))


async def aread(client, settings: Section, job_id: str, after: str = "0",
                block_ms: int | None = None) -> list[tuple[str, dict]]:
    """`read` on a redis.asyncio client."""
    return decode_reply(await client.xread({stream_key(settings, job_id): after}, block=block_ms, count=READ_COUNT))


def final_event(client: redis.Redis, settings: Section, job_id: str) -> dict | None:
    """The job's result event if it has been published (reads the stream's last entry)."""
    entries = client.xrevrange(stream_key(settings, job_id), count=1)
    if entries:
        event = json.loads(entries[0][1][b"e"])
        if event.get("type") == FINAL_EVENT:
            return event
    return None


def follow(client: redis.Redis, settings: Section, job_id: str, block_ms: int = 1000,
           after: str = "0") -> Iterator[tuple[str, dict | None]]:
    """Yield (id, event) as they arrive, and (after, None) on each idle `block_ms`; ends after the result."""
    while True:
        events = read(client, settings, job_id, after, block_ms)
        if not events:
            yield after, None
            continue
        for entry_id, event in events:
            after = entry_id
            yield entry_id, event
            if event.get("type") == FINAL_EVENT:
                return
