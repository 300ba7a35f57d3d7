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

A worker publishes through a `Publisher`: the job path only puts the event in a queue (a C call that
never blocks), and one thread sends whatever is queued in one pipelined round trip, in order.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Iterator

import redis

from config import Section
from jobs.keys import key

log = logging.getLogger("mcps.live_events")
KINDS = ("tool_status", "log", "task", "alert", "proxy")
PUBLISH_BATCH = 500
LINGER_S = 0.01


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
    """A `task` event for `Publisher.put`: the job's id and kind, its phase and status, and whichever of
    progress, total and message are given."""
    data = {"id": job["id"], "kind": job["kind"], "phase": phase, "status": status,
            **{name: value for name, value in details.items() if value is not None}}
    return "task", data, job.get("tool_id"), job.get("user_id")


def alert_event(alert, event: str, by_user_id: int | None = None) -> tuple:
    """An `alert` event (for `publish` or `Publisher.put`) of an Alert row: fired, resolved or acknowledged.
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


class Publisher:
    """Live events sent from a thread of their own, so that whoever reports one (a call's progress on the
    MCP loop, a job starting) never waits for Redis. Events go out in the order they were put."""

    def __init__(self, client: redis.Redis, settings: Section):
        self.client = client
        self.settings = settings
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="live-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def put(self, kind: str, data: dict, tool_id: int | None = None, user_id: int | None = None) -> None:
        self._queue.put((kind, data, tool_id, user_id))

    def flush(self, timeout: float = 5) -> bool:
        """Wait until everything put before is sent (or given up on)."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Whatever comes within LINGER_S goes in the same round trip: under load, one wake-up and one
            # XADD pipeline per batch rather than per event (the job path shares our CPU and GIL).
            deadline = time.monotonic() + LINGER_S
            while len(batch) < PUBLISH_BATCH and isinstance(batch[-1], tuple):
                try:
                    batch.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
                except queue.Empty:
                    break
            events = [item for item in batch if isinstance(item, tuple)]
            if events and not self._send(events):
                batch += self._drain()
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if None in batch:
                return

    def _send(self, events: list[tuple]) -> bool:
        try:
            publish_many(self.client, self.settings, [encode(*event) for event in events])
            return True
        except (redis.RedisError, TypeError, ValueError) as error:  # best effort: the records are stored
            log.warning("event=live_event.publish_failed events=%d error=%r", len(events), str(error))
            return False

    def _drain(self) -> list:
        """After a failed send (Redis away): drop the events queued meanwhile rather than try each batch
        in turn, so that an outage costs one attempt at a time and the queue never grows without bound.
        Returns what is not an event (flushes waiting, the stop)."""
        kept, dropped = [], 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                dropped += 1
            else:
                kept.append(item)
        if dropped:
            log.warning("event=live_event.dropped events=%d reason=redis_unavailable", dropped)
        return kept
