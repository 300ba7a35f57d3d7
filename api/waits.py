"""Requests that hold a server thread while they wait: synchronous calls and task event streams.

gunicorn gives each process a fixed number of threads, and a sync call (or an open event stream) holds
one until its answer. Unbounded, 32 slow calls take every thread and health checks and management wait
behind them. So each process lends at most `threads - reserved_threads` threads to waiting, and each
user at most a share of them when others want them too: a sync call over the bound is answered 202 with its task (it still runs), an
event stream over it 429. The counts are per process, like the threads they protect.
"""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

from flask import current_app

from api.extensions import get_settings
from api.gunicorn_conf import THREADS_KEY

WAITS_KEY = "mcps.waits"


class WaitingThreads:
    """Counts the threads lent to waiting, in total and per user."""

    def __init__(self, total: int, per_user: int):
        self.total = max(total, 1)
        self.per_user = per_user
        self._lock = threading.Lock()
        self._by_user: Counter = Counter()
        self._used = 0

    def take(self, user: str, per_user: int | None = None) -> bool:
        """Lend a thread to `user`'s wait, unless that would pass a bound. A user past their share
        still gets one while half the threads are free: the share matters only when others need them."""
        limit = self.per_user if per_user is None else per_user
        with self._lock:
            if self._used >= self.total or (self._by_user[user] >= limit and self._used >= self.total // 2):
                return False
            self._used += 1
            self._by_user[user] += 1
            return True

    def give_back(self, user: str) -> None:
        with self._lock:
            self._used -= 1
            self._by_user[user] -= 1
            if self._by_user[user] <= 0:
                del self._by_user[user]


def waiting_threads() -> WaitingThreads:
    waits = current_app.extensions.get(WAITS_KEY)
    if waits is None:
        settings = get_settings()
        # gunicorn's real thread count (api/gunicorn_conf.py), else the configured one
        threads = current_app.config.get(THREADS_KEY) or settings.server.threads
        waits = current_app.extensions[WAITS_KEY] = WaitingThreads(
            threads - settings.server.reserved_threads, settings.mcp.jobs.sync_waits_per_user)
    return waits


@contextmanager
def thread_lent_to(user_id: int) -> Iterator[bool]:
    """`with thread_lent_to(user.id) as waiting:` -- whether this request may wait for its job here
    (else it answers with the task); the thread is given back on leaving."""
    waits, waiter = waiting_threads(), f"user:{user_id}"
    lent = waits.take(waiter)
    try:
        yield lent
    finally:
        if lent:
            waits.give_back(waiter)
