"""Queries without the query builder, for the per-call hot path: primary-key lookups and inserts.

Peewee builds the SQL of a query every time it runs it (a few hundred microseconds for a wide model);
these run SQL compiled once per query shape and database (`compiled_sql`), and return ordinary model
instances.
"""
from __future__ import annotations

from typing import Callable, TypeVar

import peewee

from models.base import db

M = TypeVar("M", bound=peewee.Model)
_compiled: dict[tuple, str] = {}


def compiled_sql(cache_key: tuple, build: Callable[[], str]) -> str:
    """The SQL named by `cache_key` for the bound database, built by `build()` the first time."""
    full_key = (id(db.obj), *cache_key)
    sql = _compiled.get(full_key)
    if sql is None:
        sql = _compiled[full_key] = build()
    return sql


def get_by(model: type[M], field: peewee.Field, value, only: tuple[peewee.Field, ...] | None = None) -> M | None:
    """`model.get_or_none(field == value)`, with the SQL compiled once. With `only`, just those
    columns are read (the others are left unset): a tool's JSON lists can be tens of kilobytes."""
    fields = list(only) if only else model._meta.sorted_fields
    sql = compiled_sql(("select", model, field.name, tuple(f.name for f in fields)),
                       lambda: model.select(*fields).where(field == value).limit(1).sql()[0])
    row = db.obj.execute_sql(sql, (field.db_value(value), 1)).fetchone()
    if row is None:
        return None
    instance = model(__no_default__=True, **{f.name: f.python_value(v) for f, v in zip(fields, row)})
    instance._dirty.clear()  # as loaded: save() writes only what the caller changes
    return instance


def insert_rows(model: type[peewee.Model], rows: list[dict], conflict_target: peewee.Field | None = None,
                preserve: tuple[peewee.Field, ...] = ()) -> None:
    """`model.insert_many(rows)` (an upsert on `conflict_target` that updates `preserve` when given),
    with the SQL compiled once per model, database, columns and row count. The rows carry the same
    columns; a column they leave out that has a constant default gets it, as peewee would give it."""
    if not rows:
        return
    columns = [field for field in model._meta.sorted_fields
               if field.name in rows[0] or (field.default is not None and not callable(field.default))]
    params = [field.db_value(row.get(field.name, field.default)) for row in rows for field in columns]
    cache_key = (id(db.obj), "insert", model, tuple(field.name for field in columns), len(rows),
                 conflict_target and conflict_target.name, tuple(field.name for field in preserve))
    sql = _compiled.get(cache_key)
    if sql is None:
        query = model.insert_many(rows)
        if conflict_target is not None:
            query = query.on_conflict(conflict_target=[conflict_target], preserve=list(preserve))
        sql, expected = query.sql()
        if expected != params:  # peewee added or reordered columns: let it run the query itself
            query.execute()
            return
        _compiled[cache_key] = sql
    db.obj.execute_sql(sql, params)
