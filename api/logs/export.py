"""Log export as CSV or JSON lines, streamed: entries are read in keyset pages of CHUNK rows (by id, so
a page costs an index range whatever its position; psycopg2's default cursor would otherwise load the
whole result into memory) and each page is written and sent before the next is read. Memory stays at one
page, whatever the number of rows."""
from __future__ import annotations

import csv
import io
import json
from typing import Iterator

import peewee

from models import LogEntry

CHUNK = 1000
COLUMNS = ("id", "created_at", "kind", "level", "tool_id", "task_id", "user_id", "source", "message", "data")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _pages(query: peewee.ModelSelect, limit: int | None) -> Iterator[list[tuple]]:
    fields = (LogEntry.id, LogEntry.created_at, LogEntry.category, LogEntry.level, LogEntry.tool_id,
              LogEntry.task_id, LogEntry.user_id, LogEntry.source, LogEntry.message, LogEntry.data)
    last_id, left = 0, limit
    while left is None or left > 0:
        size = CHUNK if left is None else min(CHUNK, left)
        rows = list(query.select(*fields).where(LogEntry.id > last_id).order_by(LogEntry.id).limit(size).tuples())
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]
        left = None if left is None else left - len(rows)


def _as_record(row: tuple) -> dict:
    record = dict(zip(COLUMNS, row))
    record["created_at"] = record["created_at"].isoformat() + "+00:00"
    record["data"] = json.loads(record["data"]) if isinstance(record["data"], str) else record["data"]
    return record


def export_lines(query: peewee.ModelSelect, fmt: str, limit: int | None = None) -> Iterator[str]:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        yield buffer.getvalue()
        for rows in _pages(query, limit):
            buffer.seek(0)
            buffer.truncate()
            for row in rows:
                record = _as_record(row)
                record["data"] = "" if record["data"] is None else json.dumps(record["data"], separators=(",", ":"))
                writer.writerow(record[column] for column in COLUMNS)
            yield buffer.getvalue()
    else:
        for rows in _pages(query, limit):
            yield "".join(json.dumps(_as_record(row), separators=(",", ":")) + "\n" for row in rows)
