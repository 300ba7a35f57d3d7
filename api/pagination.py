"""`?page=&page_size=` pagination with the total in the body:

    {"items": [...], "total": 42, "page": 1, "page_size": 20, "pages": 3}

Usage in a blueprint (filters go in a subclass of PageArgs, so that one schema reads the query):

    class ToolListArgs(PageArgs):
        status = fields.String()

    @blp.route("/")
    class Tools(MethodView):
        @require_role("viewer")
        @blp.arguments(ToolListArgs, location="query")
        @blp.response(200, page_schema(ToolSchema))
        def get(self, args):
            query = Tool.select().order_by(Tool.id)
            if "status" in args:
                query = query.where(Tool.status == args["status"])
            return paginate(query, args)

Defaults and the maximum page size come from `settings.pagination`; a page_size above the maximum is
a 422. (flask-smorest's own `@blp.paginate` puts the totals in a header; clients of the platform we
replace read them from the body, hence this helper.)
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import peewee
from marshmallow import EXCLUDE, Schema, fields, validate

from api.extensions import get_settings
from api.schemas import SettingBound


class PageArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1),
                          metadata={"description": "Page number, from 1."})
    page_size = fields.Integer(
        load_default=lambda: get_settings().pagination.default_page_size,
        validate=[validate.Range(min=1), SettingBound("pagination.max_page_size", "maximum", "Must be at most {bound}.")],
        metadata={"description": "Items per page (default 20, at most 100 unless configured otherwise)."})


class PageSchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "Items on every page."})
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    pages = fields.Integer(required=True, metadata={"description": "Number of pages."})


_page_schemas: dict[type[Schema], type[Schema]] = {}


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """The response schema of a page of `item_schema` items (one class per item schema, so that the
    OpenAPI document names it once: `UserSchema` -> `UserPage`)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(name, (PageSchema,), {
            "items": fields.List(fields.Nested(item_schema), required=True)})
    return _page_schemas[item_schema]


def paginate(items: peewee.SelectBase | Sequence[Any], args: Mapping[str, Any]) -> dict:
    """One page of a peewee query (give it an order_by) or of a list, as the page body."""
    page, page_size = args["page"], args["page_size"]
    if isinstance(items, peewee.SelectBase):
        total = items.count()
        rows = list(items.paginate(page, page_size)) if total > (page - 1) * page_size else []
    else:
        total = len(items)
        rows = list(items[(page - 1) * page_size:page * page_size])
    return {"items": rows, "total": total, "page": page, "page_size": page_size,
            "pages": math.ceil(total / page_size)}
