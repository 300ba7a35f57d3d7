"""Schema migrations (peewee-migrate), run by `flask --app api.wsgi db upgrade` and on every start-up."""
from __future__ import annotations

import logging
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


class _migration_lock:
    """Serialise migrators: an advisory lock on PostgreSQL, an immediate transaction on SQLite is not
    enough (peewee-migrate commits per migration), so SQLite relies on its busy timeout + `diff` recheck."""

    def __init__(self, database: peewee.Database):
        self.database = database
        self.postgres = isinstance(database, peewee.PostgresqlDatabase)

    def __enter__(self):
        if self.postgres:
            self.database.execute_sql("SELECT pg_advisory_lock(7140101)")

    def __exit__(self, *exc):
        if self.postgres:
            self.database.execute_sql("SELECT pg_advisory_unlock(7140101)")
