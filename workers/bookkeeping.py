"""Database writes that must not delay a reply: task rows, call history, tool status, tool logs.

One thread per worker process drains a queue of small write functions in order, batching whatever is
waiting into one transaction. `flush()` waits until everything queued before it is written (lifecycle
jobs use it so that a reply never runs ahead of the status it reports).
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from models import db

log = logging.getLogger("mcps.bookkeeping")
MAX_BATCH = 500


class Bookkeeper:
    def __init__(self):
        self._queue: queue.Queue[Callable[[], None] | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="bookkeeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def write(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def flush(self, timeout: float = 10) -> bool:
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            writes = [item for item in batch if callable(item) and not isinstance(item, threading.Event)]
            self._apply(writes)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if None in batch:
                return

    def _apply(self, writes: list[Callable[[], None]]) -> None:
        if not writes:
            return
        try:
            with db.atomic():
                for write in writes:
                    write()
        except Exception:
            # One bad write must not lose the others: retry them one by one.
            log.exception("event=bookkeeping.batch_failed size=%d", len(writes))
            for write in writes:
                try:
                    with db.atomic():
                        write()
                except Exception:
                    log.exception("event=bookkeeping.write_failed")
