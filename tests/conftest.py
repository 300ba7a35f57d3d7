"""Shared fixtures: every test run gets its own Redis key namespace, data dir and databases.

Storage and queue code is tested against the real services of this machine (PostgreSQL at
127.0.0.1:5432 database `test`, Redis at 127.0.0.1:6379) and against SQLite + the embedded Redis.
`MCPS_TEST_REDIS_URL` / `MCPS_TEST_POSTGRES_URL` point the suite elsewhere.
"""
from __future__ import annotations

import os
import uuid

import psycopg2
import pytest
import redis as redis_lib

from config import load_settings
from models import ALL_MODELS, bind_encryption_key, db, open_database
from models.log_sink import log_sink
from models.migrate import upgrade
from config import secret

pytest_plugins = ["tests.harness"]

REDIS_URL = os.environ.get("MCPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("MCPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = uuid.uuid4().hex[:8]


def postgres_available() -> bool:
    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


@pytest.fixture(autouse=True)
def _log_sink_written_in_its_test():
    """The log entries a test emitted (the audit of its requests) are written before the next test binds
    its own database: the sink's thread writes to whatever database is bound when its batch is due."""
    yield
    log_sink.flush(5)


@pytest.fixture(scope="session")
def redis_namespace():
    """A key prefix of this test run on the shared Redis; every key under it is deleted at the end."""
    namespace = f"mcpstest{RUN_ID}"
    yield namespace
    client = redis_lib.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{namespace}*", count=1000):
        client.delete(key)


def settings_in(data_dir, redis_namespace: str, **overrides):
    """Settings with that data dir and a new key namespace under the run's, SQLite unless told otherwise."""
    namespace = f"{redis_namespace}{uuid.uuid4().hex[:6]}"
    values = {"app.env": "test", "app.data_dir": str(data_dir), "redis.url": REDIS_URL,
              "redis.namespace": namespace, "rate_limits.management": "100000 per minute"}
    values.update(overrides)
    return load_settings(environ={}, overrides=values)


@pytest.fixture
def make_settings(tmp_path, redis_namespace):
    """Settings for a test: its own data dir and key namespace, SQLite unless told otherwise."""
    return lambda **overrides: settings_in(tmp_path / "data", redis_namespace, **overrides)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory, redis_namespace):
    """Settings shared by the tests of one module, its database migrated and bound: for a module whose tests
    share processes that are slow to start (a worker and its tools) because they cannot disturb each other.
    Such a module overrides `settings` with these and uses no `database` (that one empties the tables)."""
    settings = settings_in(tmp_path_factory.mktemp("module") / "data", redis_namespace)
    database = bind_fresh_database(settings)
    yield settings
    database.close()


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture(scope="session")
def postgres_database():
    """A PostgreSQL database of this test run, dropped at the end (skips when PostgreSQL is down)."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at " + POSTGRES_URL)
    name = f"mcps_test_{RUN_ID}"
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    db.close() if not db.obj is None and not db.is_closed() else None
    admin.cursor().execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,))
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


@pytest.fixture
def terminate_postgres_backends():
    """terminate_postgres_backends(url): drop every connection to that database from a separate one, as a
    PostgreSQL restart does to its clients (without restarting the machine's server); returns how many."""
    def terminate(url: str) -> int:
        admin = psycopg2.connect(POSTGRES_URL)
        admin.autocommit = True
        try:
            cursor = admin.cursor()
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (url.rsplit("/", 1)[1],))
            return cursor.fetchone()[0]
        finally:
            admin.close()
    return terminate


def bind_fresh_database(settings):
    """Bind the models to the settings' database, migrated and empty."""
    if db.obj is not None and not db.is_closed():
        db.close()
    database = open_database(settings.database.url)
    db.initialize(database)
    bind_encryption_key(secret(settings, "encryption_key"))
    upgrade(database)
    with database.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    return database


@pytest.fixture(params=["sqlite", "postgres"])
def any_database(request, make_settings):
    """Run a storage test on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_database")
        settings = make_settings(**{"database.url": url})
    else:
        settings = make_settings()
    database = bind_fresh_database(settings)
    yield database
    database.close()


@pytest.fixture
def database(settings):
    """SQLite in the test's data dir, migrated."""
    database = bind_fresh_database(settings)
    yield database
    database.close()
