"""Primary-key lookups without the query builder, for the per-request hot path.

Peewee builds the SQL of a query every time it runs it (a few hundred microseconds for a wide model);
these lookups run SQL compiled once per model and database, and return ordinary model instances.
"""
from __future__ import annotations

from typing import TypeVar

import peewee

from models.base import db

M = TypeVar("M", bound=peewee.Model)
_compiled: dict[tuple[type, int, str], str] = {}


def get_by(model: type[M], field: peewee.Field, value) -> M | None:
    """`model.get_or_none(field == value)`, with the SQL compiled once."""
    database = db.obj
    cache_key = (model, id(database), field.name)
    sql = _compiled.get(cache_key)
    if sql is None:
        sql, _ = model.select().where(field == value).limit(1).sql()
        _compiled[cache_key] = sql
    row = database.execute_sql(sql, (field.db_value(value), 1)).fetchone()
    if row is None:
        return None
    fields = model._meta.sorted_fields
    instance = model(__no_default__=True, **{f.name: f.python_value(v) for f, v in zip(fields, row)})
    instance._dirty.clear()  # as loaded: save() writes only what the caller changes
    return instance
