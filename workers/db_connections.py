"""Each job thread hands its PostgreSQL connection back to the pool when a message is done.

A worker process has more threads that use the database than the pool has connections
(`performance.db_pool_size`): Dramatiq's job threads, the heartbeat, the bookkeeper, the main thread.
A connection is opened on a thread's first query and, unless closed, kept by that thread for ever: once
lifecycle jobs had run on enough different threads, the next one waited for a free connection and failed
(MaxConnectionsExceeded). Returned after each message, as the API returns it after each request, a job
thread holds one only while it works; the pool checks an idle connection before lending it again, so a
connection the server dropped meanwhile (a PostgreSQL restart) is replaced rather than reused.

SQLite is not pooled: its per-thread connection stays open (reopening re-runs the pragmas).
"""
from __future__ import annotations

from dramatiq.middleware import Middleware
from playhouse.pool import PooledDatabase

from models import db


class ReturnDatabaseConnection(Middleware):
    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        _return_connection()

    def after_skip_message(self, broker, message) -> None:
        _return_connection()


def _return_connection() -> None:
    if isinstance(db.obj, PooledDatabase) and not db.is_closed() and not db.in_transaction():
        db.close()
