"""Full-text search of log messages in the database's own engine (api/v1/logs/search):
SQLite: an FTS5 index over log_entry.message, kept by triggers (external content: no copy of the text);
PostgreSQL: a GIN index over to_tsvector('simple', message), the expression models.log_search queries.
The 'simple' configuration (no stemming, lower case) matches words as SQLite's unicode61 tokenizer does."""
import peewee as pw
from peewee_migrate import Migrator

SQLITE_UP = [
    "CREATE VIRTUAL TABLE log_entry_fts USING fts5(message, content='log_entry', content_rowid='id')",
    "CREATE TRIGGER log_entry_fts_insert AFTER INSERT ON log_entry BEGIN "
    "INSERT INTO log_entry_fts(rowid, message) VALUES (new.id, new.message); END",
    "CREATE TRIGGER log_entry_fts_delete AFTER DELETE ON log_entry BEGIN "
    "INSERT INTO log_entry_fts(log_entry_fts, rowid, message) VALUES ('delete', old.id, old.message); END",
    "CREATE TRIGGER log_entry_fts_update AFTER UPDATE OF message ON log_entry BEGIN "
    "INSERT INTO log_entry_fts(log_entry_fts, rowid, message) VALUES ('delete', old.id, old.message); "
    "INSERT INTO log_entry_fts(rowid, message) VALUES (new.id, new.message); END",
    "INSERT INTO log_entry_fts(log_entry_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS log_entry_fts_insert", "DROP TRIGGER IF EXISTS log_entry_fts_delete",
               "DROP TRIGGER IF EXISTS log_entry_fts_update", "DROP TABLE IF EXISTS log_entry_fts"]
POSTGRES_UP = ["CREATE INDEX IF NOT EXISTS log_entry_message_fts ON log_entry USING GIN (to_tsvector('simple', message))"]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS log_entry_message_fts"]


def _run(migrator: Migrator, database: pw.Database, sqlite: list[str], postgres: list[str]) -> None:
    for statement in postgres if isinstance(database, pw.PostgresqlDatabase) else sqlite:
        migrator.sql(statement)


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    _run(migrator, database, SQLITE_UP, POSTGRES_UP)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    _run(migrator, database, SQLITE_DOWN, POSTGRES_DOWN)
