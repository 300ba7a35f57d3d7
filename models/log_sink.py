"""The database sink of the logs: LogEntry rows written in batches by one thread per process.

`log_sink.emit(kind, message, ...)` only puts a dict on a queue (never blocks, never touches the
database); the thread writes what arrived within LINGER_S in one multi-row INSERT. Beyond
`max_pending` waiting entries new ones are dropped and counted (a database that is down must not grow
the process without bound). The thread starts on first use and again in a forked child (gunicorn
--preload builds the app in its master).

Log records reach the sink through `DatabaseLogHandler` when they carry a kind:

    log.info("event=scheduler.leader_elected id=%s", holder, extra=SYSTEM)
    log.warning("event=tool.crashed tool=%s", name, extra=log_kind("mcp", tool_id=tool.id))
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any, Callable

import peewee

from models.base import db, utcnow
from models.logs import CATEGORIES, LogEntry

log = logging.getLogger("mcps.log_sink")
LINGER_S = 0.2
MAX_BATCH = 500
WRITE_RETRIES = 5
MESSAGE_MAX = 10000


def log_kind(kind: str, **fields: Any) -> dict:
    """`extra=` of a log call whose record is also stored as a log entry of that kind (system,
    operations, mcp); fields: tool_id, task_id, user_id, source, data."""
    if kind not in CATEGORIES:
        raise ValueError(f"unknown log kind {kind!r}")
    return {"log_kind": kind, "log_fields": fields}


SYSTEM = log_kind("system")


class LogSink:
    def __init__(self, max_pending: int = 10000):
        self.max_pending = max_pending
        self.dropped = 0
        self.on_written: list[Callable[[list[dict]], None]] = []  # e.g. publish to the live events
        self._pid = None
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def emit(self, kind: str, message: str, level: str = "INFO", *, tool_id: int | None = None,
             task_id: str | None = None, user_id: int | None = None, source: str = "", data: dict | None = None) -> None:
        self._ensure_thread()
        if self._queue.qsize() >= self.max_pending:
            self.dropped += 1
            return
        self._queue.put({"category": kind, "level": level, "tool_id": tool_id, "task_id": task_id,
                         "user_id": user_id, "source": source[:32], "message": message[:MESSAGE_MAX],
                         "data": data, "created_at": utcnow()})

    def flush(self, timeout: float = 10) -> bool:
        """Wait until everything emitted before this call is written (tests, shutdown)."""
        if self._thread is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 5) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            # A forked child: whatever its parent had queued is the parent's to write.
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="log-sink", daemon=True)
            self._pid = os.getpid()
            self._thread.start()

    def _next_batch(self) -> list:
        batch = [self._queue.get()]
        deadline = time.monotonic() + LINGER_S
        while len(batch) < MAX_BATCH and isinstance(batch[-1], dict):
            try:
                batch.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            rows = [item for item in batch if isinstance(item, dict)]
            if rows:
                self._write(rows)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if None in batch:
                return

    def _drop(self, rows: list[dict], error: Exception) -> None:
        self.dropped += len(rows)
        # No kind on this record: it must not come back to the sink.
        log.warning("event=log_sink.dropped rows=%d error=%r", len(rows), str(error))

    def _write(self, rows: list[dict]) -> None:
        for attempt in range(WRITE_RETRIES + 1):
            # One database object for the whole transaction, even if the proxy is re-bound meanwhile (tests).
            database = db.obj
            try:
                if database is None:  # the process binds its database after setting up logging
                    raise peewee.InterfaceError("database not bound yet")
                with database.atomic():
                    LogEntry.insert_many(rows).execute(database)
                break
            except (peewee.OperationalError, peewee.InterfaceError) as error:
                if attempt == WRITE_RETRIES:
                    self._drop(rows, error)
                    return
                time.sleep(min(0.1 * 2 ** attempt, 2))
            except Exception as error:  # not a passing outage: retrying would not help
                self._drop(rows, error)
                return
            finally:
                if database is not None and not isinstance(database, peewee.SqliteDatabase) and not database.is_closed():
                    database.close()  # PostgreSQL: give the connection back to the pool between batches
        for callback in self.on_written:
            try:
                callback(rows)
            except Exception:
                log.exception("event=log_sink.callback_failed")


log_sink = LogSink()
atexit.register(log_sink.close)


class DatabaseLogHandler(logging.Handler):
    """Sends the records that carry a kind (`extra=log_kind(...)`) to the sink; ignores the others."""

    def __init__(self, sink: LogSink = log_sink, level: int | str = logging.INFO):
        super().__init__(level)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        kind = getattr(record, "log_kind", None)
        if kind is None:
            return
        try:
            fields = dict(getattr(record, "log_fields", None) or {})
            fields.setdefault("source", record.name.removeprefix("mcps."))
            self.sink.emit(kind, record.getMessage(), record.levelname, **fields)
        except Exception:
            self.handleError(record)


def database_log_handler(settings) -> DatabaseLogHandler:
    log_sink.max_pending = settings.logging.sink_max_pending
    return DatabaseLogHandler(log_sink, str(settings.logging.database_level).upper())


def setup_process_logging(settings, process: str) -> None:
    """The logging of a platform process: stdout and file (config.logs) plus this sink; its start is a
    system event, and so is its exit."""
    from config.logs import setup_logging

    setup_logging(settings, process, [database_log_handler(settings)])
    logging.getLogger("mcps.process").info("event=process.started process=%s pid=%d", process, os.getpid(), extra=SYSTEM)
    started_in = os.getpid()

    def stopped() -> None:
        if os.getpid() == started_in:  # not in a forked child that exits (gunicorn's workers log their own)
            logging.getLogger("mcps.process").info("event=process.stopped process=%s pid=%d", process, os.getpid(),
                                                   extra=SYSTEM)
            log_sink.flush(2)

    atexit.register(stopped)
