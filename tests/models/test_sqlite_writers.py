"""SQLite with several writers (the log sink's thread, other processes): a transaction that reads before it
writes must not be refused. In WAL mode a DEFERRED transaction that read, then finds another connection's
commit when it starts writing, gets SQLITE_BUSY at once ("database is locked"): its snapshot is stale and
the busy timeout does not apply. Write transactions therefore begin IMMEDIATE (models.base), and a
migration run is one IMMEDIATE transaction (models.migrate)."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

from models import LogEntry, Tool, db, open_database, utcnow
from models.migrate import MIGRATIONS_DIR, upgrade
from tests.harness import ROOT
from tests.models.test_storage import roll_back_to_before

ALL_MIGRATIONS = sorted(path.stem for path in MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.py"))


class OtherWriter:
    """A second connection (as another process's) that tries one log entry insert without waiting."""

    def __init__(self, path: str):
        self.connection = sqlite3.connect(path, timeout=0, isolation_level=None)

    def write(self) -> bool:
        """True when the entry was written, False when a transaction of ours held the write lock."""
        try:
            self.connection.execute("INSERT INTO log_entry (category, level, source, message, created_at) "
                                    "VALUES ('system', 'INFO', 'test', 'interloper', ?)", (str(utcnow()),))
            return True
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            return False

    def close(self) -> None:
        self.connection.close()


def test_given_a_transaction_that_reads_first_when_another_connection_commits_then_its_write_succeeds(database):
    # Given a transaction that has read (its snapshot taken)
    other = OtherWriter(database.database)
    try:
        with db.atomic():
            assert Tool.select().count() == 0
            # When another connection writes meanwhile
            written_meanwhile = other.write()
            # Then this transaction's own write is not refused: the other writer waited for it instead
            Tool.create(name="after-read", transport="stdio", command="uvx")
        assert not written_meanwhile
        assert other.write()
    finally:
        other.close()
    assert Tool.select().count() == 1
    assert LogEntry.select().where(LogEntry.message == "interloper").count() == 1


def test_given_a_log_entry_written_during_a_migration_that_reads_first_then_the_migration_succeeds(database):
    # Given a database where 002_tool_scope_ids (it reads the keys, then writes) and later ones are pending,
    # and another writer (a log sink) that writes a log entry once that migration has read
    roll_back_to_before(database, "002_tool_scope_ids")
    other = OtherWriter(database.database)
    attempts = []

    def on_statement(sql: str) -> None:
        if sql.startswith("SELECT id, tool_scope FROM api_key"):
            attempts.append(other.write())

    database.connection().set_trace_callback(on_statement)
    try:
        # When it is migrated
        applied = upgrade(database)
    finally:
        database.connection().set_trace_callback(None)

    # Then every pending migration is applied and recorded once, and the other writer had to wait for it
    try:
        assert attempts == [False]
        assert applied == ALL_MIGRATIONS[1:]
        assert other.write()
    finally:
        other.close()
    assert [name for (name,) in database.execute_sql("SELECT name FROM migratehistory ORDER BY id")] == ALL_MIGRATIONS


MIGRATOR = """
import json, os, sys, time
from models import open_database
from models.migrate import upgrade
path, go = sys.argv[1], sys.argv[2]
database = open_database("sqlite:///" + path)
while not os.path.exists(go):  # both start migrating at once
    time.sleep(0.001)
print(json.dumps(upgrade(database)))
"""


def test_given_two_processes_starting_on_a_fresh_file_when_both_migrate_then_each_migration_runs_once(tmp_path):
    # Given two processes about to migrate the same fresh SQLite file
    path, go = str(tmp_path / "app.db"), tmp_path / "go"
    migrators = [subprocess.Popen([sys.executable, "-c", MIGRATOR, path, str(go)], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]

    # When both migrate at once
    time.sleep(0.5)  # let both import before the start signal (a later one would only find nothing to do)
    go.touch()
    outcomes = [(migrator.wait(60), *migrator.communicate()) for migrator in migrators]

    # Then both succeed, one of them applied everything, and each migration is recorded once
    assert [code for code, _, _ in outcomes] == [0, 0], [err[-2000:] for _, _, err in outcomes]
    assert sorted((json.loads(out) for _, out, _ in outcomes), key=len) == [[], ALL_MIGRATIONS]
    check = open_database(f"sqlite:///{path}")
    assert [name for (name,) in check.execute_sql("SELECT name FROM migratehistory ORDER BY id")] == ALL_MIGRATIONS
    check.close()
