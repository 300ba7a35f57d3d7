"""Schema migrations (peewee-migrate), run by `flask --app api.wsgi db upgrade` and on every start-up."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import peewee
from peewee_migrate import Router

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
log = logging.getLogger("mcps.migrate")


def router(database: peewee.Database) -> Router:
    return Router(database, migrate_dir=str(MIGRATIONS_DIR), ignore=["basemodel"], logger=log)


def upgrade(database: peewee.Database) -> list[str]:
    """Apply pending migrations; returns their names. Safe to run concurrently from several processes."""
    migrations = router(database)
    pending = migrations.diff
    if pending:
        with _migration_lock(database):
            migrations = router(database)
            pending = migrations.diff
            if pending:
                migrations.run()
    return pending


@contextmanager
def _migration_lock(database: peewee.Database):
    """Serialise migrators (several processes start at once): an advisory lock on PostgreSQL; on SQLite
    one IMMEDIATE transaction around the re-check and every migration (peewee-migrate's per-migration
    transactions nest in it, so nothing commits before the end). It holds the write lock from its first
    statement: a log sink's insert waits for it instead of making a migration that read before it writes
    fail at once with "database is locked", and a second migrator finds nothing left to do."""
    if isinstance(database, peewee.SqliteDatabase):
        with database.transaction(lock_type="IMMEDIATE"):
            yield
        return
    postgres = isinstance(database, peewee.PostgresqlDatabase)
    if postgres:
        database.execute_sql("SELECT pg_advisory_lock(7140101)")
    try:
        yield
    finally:
        if postgres:
            database.execute_sql("SELECT pg_advisory_unlock(7140101)")
