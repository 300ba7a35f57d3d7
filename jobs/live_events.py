"""Live events of the platform, one capped Redis stream `<ns>:events` that every process appends to
and every API process reads (/api/v1/events as SSE, /api/v1/ws as a WebSocket).

A stream, not pub/sub: every API process sees every event, and a client that reconnects with the id of
the last event it got (SSE's Last-Event-ID) resumes right after it, missing nothing that is still in the
stream (`monitoring.events_maxlen` events). Each event: {"kind", "tool_id", "user_id", "data"}:

    tool_status  a tool's status changed (workers)       data: {status, ...}
    log          a log line (tool stderr, platform events) data: {kind, level, source, message}
    task         a job started, progressed or finished   data: {id, kind, phase, status, [progress, total,
                 (workers)                                       message]}; phase: started|progress|finished
    alert        an alert fired, resolved or was          data: {id, event, rule, subject, severity,
                 acknowledged (workers.alerts, the API)          status, message}
    proxy        a front door session opened or closed    data: {event, session, transport, era, endpoint,
                 (the proxy)                                     protocol_version, client, api_key_id}

Who may see which event is decided by the reader (policy.access), per event.

A worker's events leave from its bookkeeper's thread (workers.bookkeeping): the job path only puts them
in its queue (a C call that never blocks), and each batch goes out in one pipelined round trip, in order.
"""
from __future__ import annotations

import json
from typing import Iterator

import redis

from config import Section
from jobs.keys import key

KINDS = ("tool_status", "log", "task", "alert", "proxy")


def events_key(settings: Section) -> str:
    return key(settings, "events")


def encode(kind: str, data: dict, tool_id: int | None = None, user_id: int | None = None) -> dict:
    return {"kind": kind, "tool_id": "" if tool_id is None else str(tool_id),
            "user_id": "" if user_id is None else str(user_id), "data": json.dumps(data, default=str)}


def publish(client: redis.Redis, settings: Section, kind: str, data: dict, tool_id: int | None = None,
            user_id: int | None = None) -> None:
    client.xadd(events_key(settings), encode(kind, data, tool_id, user_id),
                maxlen=settings.monitoring.events_maxlen, approximate=True)


def append(pipe, settings: Section, kind: str, data: dict, tool_id: int | None = None,
           user_id: int | None = None) -> None:
    """Queue the event on a pipeline (sync or asyncio) the caller sends anyway: no round trip of its own."""
    pipe.xadd(events_key(settings), encode(kind, data, tool_id, user_id),
              maxlen=settings.monitoring.events_maxlen, approximate=True)


def task_event(job: dict, phase: str, status: str, **details) -> tuple:
    """A `task` event (for a bookkeeper's `tell`): the job's id and kind, its phase and status, and whichever of
    progress, total and message are given."""
    data = {"id": job["id"], "kind": job["kind"], "phase": phase, "status": status,
            **{name: value for name, value in details.items() if value is not None}}
    return "task", data, job.get("tool_id"), job.get("user_id")


def alert_event(alert, event: str, by_user_id: int | None = None) -> tuple:
    """An `alert` event (for `publish` or a bookkeeper's `tell`) of an Alert row: fired, resolved or acknowledged.
    An alert about a tool (subject `tool:<id>`) carries that tool's id, so readers see it by that tool."""
    subject = alert.subject or ""
    tool_id = int(subject[5:]) if subject.startswith("tool:") and subject[5:].isdigit() else None
    data = {"id": alert.id, "event": event, "rule": alert.rule_name, "subject": subject,
            "severity": alert.severity, "status": "resolved" if event == "resolved" else alert.status,
            "message": alert.message, "value": alert.value}
    return "alert", data, tool_id, by_user_id


async def publish_async(client, settings: Section, kind: str, data: dict, tool_id: int | None = None,
                        user_id: int | None = None) -> None:
    """`publish` with a redis.asyncio client (the MCP front door)."""
    await client.xadd(events_key(settings), encode(kind, data, tool_id, user_id),
                      maxlen=settings.monitoring.events_maxlen, approximate=True)


def publish_many(client: redis.Redis, settings: Section, events: list[dict]) -> None:
    """Events made by `encode`, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(events_key(settings), event, maxlen=settings.monitoring.events_maxlen, approximate=True)
    pipe.execute()


def decode(entry_id: bytes, fields: dict) -> dict:
    fields = {k.decode(): v.decode() for k, v in fields.items()}
    return {"id": entry_id.decode(), "kind": fields["kind"],
            "tool_id": int(fields["tool_id"]) if fields.get("tool_id") else None,
            "user_id": int(fields["user_id"]) if fields.get("user_id") else None,
            "data": json.loads(fields["data"])}


def latest_id(client: redis.Redis, settings: Section) -> str:
    """The id of the newest event (a client that gives none starts after it)."""
    newest = client.xrevrange(events_key(settings), count=1)
    return newest[0][0].decode() if newest else "0-0"


def follow(client: redis.Redis, settings: Section, after_id: str, block_ms: int) -> Iterator[dict | None]:
    """Events after `after_id`, forever; None after each `block_ms` without one (a keep-alive)."""
    last = after_id
    while True:
        answer = client.xread({events_key(settings): last}, count=500, block=block_ms)
        if not answer:
            yield None
            continue
        for entry_id, fields in answer[0][1]:
            last = entry_id
            yield decode(entry_id, fields)


def sink_publisher(client: redis.Redis, settings: Section):
    """A callback for models.log_sink's `on_written`: each stored log entry also goes out as a live event."""
    def publish_rows(rows: list[dict]) -> None:
        try:
            publish_many(client, settings, [
                encode("log", {"kind": row["category"], "level": row["level"], "source": row["source"],
                               "message": row["message"]}, row.get("tool_id"), row.get("user_id")) for row in rows])
        except redis.RedisError:
            pass  # live events are best effort; the entries are stored
    return publish_rows

