"""Primary-key lookups without the query builder, for the per-request hot path.

Peewee builds the SQL of a query every time it runs it (a few hundred microseconds for a wide model);
these lookups run SQL compiled once per model and database, and return ordinary model instances.
"""
from __future__ import annotations

from typing import TypeVar

import peewee

from models.base import db

M = TypeVar("M", bound=peewee.Model)
_compiled: dict[tuple, str] = {}


def get_by(model: type[M], field: peewee.Field, value, only: tuple[peewee.Field, ...] | None = None) -> M | None:
    """`model.get_or_none(field == value)`, with the SQL compiled once. With `only`, just those
    columns are read (the others are left unset): a tool's JSON lists can be tens of kilobytes."""
    database = db.obj
    fields = list(only) if only else model._meta.sorted_fields
    cache_key = (model, id(database), field.name, tuple(f.name for f in fields))
    sql = _compiled.get(cache_key)
    if sql is None:
        sql, _ = model.select(*fields).where(field == value).limit(1).sql()
        _compiled[cache_key] = sql
    row = database.execute_sql(sql, (field.db_value(value), 1)).fetchone()
    if row is None:
        return None
    instance = model(__no_default__=True, **{f.name: f.python_value(v) for f, v in zip(fields, row)})
    instance._dirty.clear()  # as loaded: save() writes only what the caller changes
    return instance


_compiled_inserts: dict[tuple, str] = {}


def insert_rows(model: type[peewee.Model], rows: list[dict], conflict_target: peewee.Field | None = None,
                preserve: tuple[peewee.Field, ...] = ()) -> None:
    """`model.insert_many(rows)` (an upsert on `conflict_target` that updates `preserve` when given),
    with the SQL compiled once per model, database, columns and row count. Every row must carry every
    column it writes, the same columns in each row."""
    if not rows:
        return
    database = db.obj
    columns = [field for field in model._meta.sorted_fields if field.name in rows[0]]
    params = [field.db_value(row[field.name]) for row in rows for field in columns]
    cache_key = (model, id(database), tuple(field.name for field in columns), len(rows),
                 conflict_target and conflict_target.name, tuple(field.name for field in preserve))
    sql = _compiled_inserts.get(cache_key)
    if sql is None:
        query = model.insert_many(rows)
        if conflict_target is not None:
            query = query.on_conflict(conflict_target=[conflict_target], preserve=list(preserve))
        sql, expected = query.sql()
        if expected != params:  # peewee added or reordered columns: let it run the query itself
            query.execute()
            return
        _compiled_inserts[cache_key] = sql
    database.execute_sql(sql, params)
