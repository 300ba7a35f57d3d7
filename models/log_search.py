"""Log queries that differ by engine: full-text search and time buckets (indexes in migration 006)."""
from __future__ import annotations

import re

import peewee

from models.base import db
from models.logs import LogEntry

WORD = re.compile(r"\w+", re.UNICODE)
BUCKETS = {"minute": 60, "hour": 3600, "day": 86400}
SQLITE_BUCKET_FORMATS = {"minute": "%Y-%m-%dT%H:%M:00", "hour": "%Y-%m-%dT%H:00:00", "day": "%Y-%m-%dT00:00:00"}


def is_postgres() -> bool:
    return isinstance(db.obj, peewee.PostgresqlDatabase)


def search_words(text: str) -> list[str]:
    """The words of a search: every one must be in a message (no operators: user text is never query syntax)."""
    return WORD.findall(text.lower())


def matching(query: peewee.ModelSelect, text: str) -> peewee.ModelSelect:
    """Narrow `query` to the entries whose message holds every word of `text`, through the engine's index."""
    words = search_words(text)
    if not words:
        return query.where(peewee.SQL("1 = 0"))
    if is_postgres():
        return query.where(peewee.SQL("to_tsvector('simple', message) @@ plainto_tsquery('simple', %s)",
                                      [" ".join(words)]))
    phrase = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    return query.where(LogEntry.id.in_(peewee.SQL("(SELECT rowid FROM log_entry_fts WHERE log_entry_fts MATCH ?)",
                                                  [phrase])))


def bucket_expression(bucket: str) -> peewee.Node:
    """The start of each entry's time bucket, as text (an ISO time without zone, UTC)."""
    if is_postgres():
        return peewee.fn.to_char(peewee.fn.date_trunc(bucket, LogEntry.created_at), 'YYYY-MM-DD"T"HH24:MI:SS')
    return peewee.fn.strftime(SQLITE_BUCKET_FORMATS[bucket], LogEntry.created_at)
