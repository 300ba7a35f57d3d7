"""The database, bound late: `bind_database(settings)` picks SQLite (WAL) or PostgreSQL from the URL."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase
from playhouse.shortcuts import ReconnectMixin

from config import Section
from config.files import ensure_private_dir, ensure_private_file

db = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000, "synchronous": "normal"}
# Transactions (`atomic()`) take the write lock when they begin. A DEFERRED one that reads, then writes
# after another connection committed (every process's log sink writes), gets SQLITE_BUSY at once in WAL
# mode: its snapshot is stale and the busy timeout does not apply. IMMEDIATE waits (busy_timeout) instead.
SQLITE_LOCK_TYPE = "IMMEDIATE"


class ReconnectingPostgresqlDatabase(ReconnectMixin, PooledPostgresqlDatabase):
    """Pooled PostgreSQL whose threads survive a server restart (or a terminated backend).

    The pool tests an idle connection when it is checked out, but a thread holding its connection open
    (a worker's job threads, heartbeat, bookkeeper) would use the dead one and fail on every query after
    a restart. Here a statement or BEGIN that fails because the server dropped the connection is run
    again on a new one. Not inside a transaction: that fails as a whole, and its caller retries it.
    """
    reconnect_errors = (
        (peewee.OperationalError, "server closed the connection"),  # the backend went away (psycopg2)
        (peewee.OperationalError, "terminating connection"),  # pg_terminate_backend, shutdown
        (peewee.InterfaceError, "connection already closed"),  # psycopg2 marked it closed on an earlier error
    )


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


def open_database(url: str, pool_size: int = 10) -> peewee.Database:
    """A peewee database for `sqlite:///path` or `postgresql://user@host:port/name`."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url[len("sqlite://"):]
        if path != ":memory:":
            path = "/" + path.lstrip("/") if url.startswith("sqlite:////") else path
            # 0600 before SQLite opens it: its -wal and -shm files take the database file's mode.
            ensure_private_dir(Path(path).parent)
            for file in (path, f"{path}-wal", f"{path}-shm"):
                if file == path or Path(file).exists():
                    ensure_private_file(file)
        return peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False,
                                     lock_type=SQLITE_LOCK_TYPE)
    parsed = urlparse(url)
    return ReconnectingPostgresqlDatabase(
        parsed.path.lstrip("/"), user=parsed.username, password=parsed.password,
        host=parsed.hostname, port=parsed.port or 5432, max_connections=pool_size, stale_timeout=300,
        timeout=10)


def bind_database(settings: Section) -> peewee.Database:
    """Point the models at the configured database (idempotent for the same URL)."""
    database = open_database(settings.database.url, settings.performance.db_pool_size)
    db.initialize(database)
    return database


class JSONField(peewee.TextField):
    """JSON stored as text: the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False
