"""Ids in paths, query strings and bodies: one rule for all of them.

An id is 1 to 19 ASCII digits within the 64-bit signed range (what SQLite and PostgreSQL store). Python's
`int()` and `str.isdigit()` also accept other scripts' digits ("١", "１") and superscripts ("²"), and a
number past 64 bits overflows the database driver (a 500): neither may reach a query.
"""
from __future__ import annotations

import re

from marshmallow import fields, validate
from werkzeug.routing import BaseConverter, ValidationError as NoRouteMatch

MAX_ID = 2 ** 63 - 1
ID_PATTERN = re.compile(r"[0-9]{1,19}")


def parse_id(text: str) -> int | None:
    """The id written as `text`, or None when it is not one (not ASCII digits, or out of range)."""
    if not isinstance(text, str) or not ID_PATTERN.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


class IdConverter(BaseConverter):
    """`<id:name>` in a route: a path segment that is not an id matches no route (404)."""

    regex = r"[0-9]{1,19}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise NoRouteMatch()
        return parsed

    def to_url(self, value) -> str:
        return str(int(value))


class Id(fields.Integer):
    """An id in a query string or a JSON body: an integer (or ASCII digits in a query) in the 64-bit range."""

    default_error_messages = {"invalid": "Not a valid id (a whole number from 0 to 2**63-1)."}

    def __init__(self, **kwargs):
        # The range is checked by _validated; this validator states it in the OpenAPI document too.
        super().__init__(validate=validate.Range(min=0, max=MAX_ID), **kwargs)

    def _validated(self, value):
        if is_id(value):
            return value
        parsed = parse_id(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.make_error("invalid")
        return parsed


def init_ids(app) -> None:
    app.url_map.converters["id"] = IdConverter
