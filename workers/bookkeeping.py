"""Database writes that must not delay a reply: task rows, call history, tool status, tool logs.

One thread per worker process drains a queue in order. Whatever arrives within LINGER_S of the first
item is written in one transaction, job records as multi-row statements (workers.history). `flush()`
waits until everything queued before it is written (lifecycle jobs use it so that a reply never runs
ahead of the status it reports); `after_commit(fn)` runs fn once what was queued before it is committed
(the tool-change notices, so that a proxy reloading on one reads the new row).

Live events (jobs.live_events: tool status, log lines, a task's start, progress and finish, alerts) ride
the same queue: `tell(...)` is a put, and each batch's events, with the finish of each job it recorded, go
to `on_live` after the commit, in the order they were reported, in one round trip. A fast call's start
and finish so share the batch, the commit and the publish that its record needed anyway.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

import peewee

from models import db
from workers.history import JobRecord, write_records

log = logging.getLogger("mcps.bookkeeping")
MAX_BATCH = 1000
LINGER_S = 0.02
UNAVAILABLE_RETRIES = 10  # 0.2 s doubling to 10 s: about a minute in all


class Bookkeeper:
    def __init__(self, auto_session: Callable[[], bool] = lambda: True,
                 on_records: Callable[[list[JobRecord]], None] | None = None,
                 on_live: Callable[[list], None] | None = None):
        self.auto_session = auto_session  # features.auto_session, read at each write (it may change at run time)
        self.on_records = on_records  # after they are written (the Prometheus counters: workers.telemetry)
        self.on_live = on_live  # [LiveEvent | JobRecord] of a batch, in order, after its commit (workers.telemetry)
        # SimpleQueue: its put is a C call that never blocks (queue.Queue's lock and condition cost the
        # MCP loop, which records every call, a visible share of its CPU)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bookkeeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def write(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def record(self, record: JobRecord) -> None:
        self._queue.put(record)

    def tell(self, kind: str, data: dict, tool_id: int | None = None, user_id: int | None = None) -> None:
        """A live event, sent after what was queued before it (never waits for Redis)."""
        self._queue.put(LiveEvent((kind, data, tool_id, user_id)))

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once every write queued before it is committed (to announce what they wrote)."""
        self._queue.put(AfterCommit(fn))

    def flush(self, timeout: float = 10) -> bool:
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _next_batch(self) -> list:
        batch = [self._queue.get()]
        deadline = time.monotonic() + LINGER_S
        while len(batch) < MAX_BATCH and not isinstance(batch[-1], threading.Event) and batch[-1] is not None:
            try:
                batch.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            records = [item for item in batch if isinstance(item, JobRecord)]
            self._apply(records, [item for item in batch if callable(item) and not isinstance(item, threading.Event)])
            if records and self.on_records is not None:
                try:
                    self.on_records(records)
                except Exception:
                    log.exception("event=bookkeeping.on_records_failed records=%d", len(records))
            live = [item for item in batch if isinstance(item, (LiveEvent, JobRecord))]
            if live and self.on_live is not None:
                try:
                    self.on_live(live)
                except Exception:
                    log.exception("event=bookkeeping.on_live_failed events=%d", len(live))
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
                elif isinstance(item, AfterCommit):
                    item.run()
            if None in batch:
                return

    def _write_retrying(self, records: list[JobRecord], writes: list[Callable[[], None]]) -> None:
        """One transaction; while the database is unreachable (restarting, locked) it is retried with
        back-off for up to about a minute rather than dropped."""
        for attempt in range(UNAVAILABLE_RETRIES + 1):
            try:
                with db.atomic():
                    if records:
                        write_records(records, self.auto_session())
                    for write in writes:
                        write()
                return
            except (peewee.OperationalError, peewee.InterfaceError) as error:
                if attempt == UNAVAILABLE_RETRIES:
                    raise
                log.warning("event=bookkeeping.database_unavailable attempt=%d error=%r", attempt + 1, str(error))
                if not db.is_closed():
                    db.close()  # a fresh connection next time
                time.sleep(min(0.2 * 2 ** attempt, 10))

    def _apply(self, records: list[JobRecord], writes: list[Callable[[], None]]) -> None:
        if not records and not writes:
            return
        try:
            self._write_retrying(records, writes)
        except Exception:
            # One bad write must not lose the others: retry them one by one.
            log.exception("event=bookkeeping.batch_failed records=%d writes=%d", len(records), len(writes))
            for apply in [lambda r=r: write_records([r], self.auto_session()) for r in records] + writes:
                try:
                    with db.atomic():
                        apply()
                except Exception:
                    log.exception("event=bookkeeping.write_failed")


@dataclass(frozen=True)
class LiveEvent:
    event: tuple  # (kind, data, tool_id, user_id): jobs.live_events.encode's arguments


@dataclass(frozen=True)
class AfterCommit:
    fn: Callable[[], None]

    def run(self) -> None:
        try:
            self.fn()
        except Exception:  # an announcement that failed (Redis away) is caught up by the readers' polls
            log.exception("event=bookkeeping.after_commit_failed")
