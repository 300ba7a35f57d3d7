"""Schemas of /api/v1/logs: the filters every listing, search, stats and export share."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from api.pagination import PageArgs
from api.schemas import UTCDateTime
from models.log_search import BUCKETS
from models.logs import CATEGORIES

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LogFilterArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(validate=validate.OneOf(CATEGORIES), metadata={"description": "system, operations, mcp"})
    level = fields.String(validate=validate.OneOf(LEVELS), metadata={"description": "Exactly this level."})
    min_level = fields.String(validate=validate.OneOf(LEVELS), metadata={"description": "This level or above."})
    tool = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "Tool id or name."})
    user = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "User id or username."})
    source = fields.String(validate=validate.Length(max=32))
    task_id = fields.String(validate=validate.Length(max=32))
    text = fields.String(validate=validate.Length(min=1, max=500),
                         metadata={"description": "Messages containing this text (a substring)."})
    since = UTCDateTime(metadata={"description": "Entries at or after this time (ISO 8601)."})
    until = UTCDateTime(metadata={"description": "Entries before this time (ISO 8601)."})

    @validates_schema
    def _range(self, data, **_kwargs):
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ValidationError("must be before until", "since")


class LogListArgs(PageArgs, LogFilterArgs):
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]),
                          metadata={"description": "desc: newest first (default)."})


class LogSearchArgs(LogListArgs):
    q = fields.String(required=True, validate=validate.Length(min=1, max=500),
                      metadata={"description": "Words that must all be in the message (full-text index)."})


class LogExportArgs(LogFilterArgs):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "jsonl"]))
    q = fields.String(validate=validate.Length(min=1, max=500), metadata={"description": "Full-text search."})
    limit = fields.Integer(validate=validate.Range(min=1), metadata={"description": "At most this many entries."})


class LogStatsArgs(LogFilterArgs):
    bucket = fields.String(load_default="hour", validate=validate.OneOf(list(BUCKETS)))


class LogClearSchema(LogFilterArgs):
    """Which entries to delete (every filter narrows); audit entries are never deleted."""

    before = UTCDateTime(metadata={"description": "Entries before this time."})


class CleanupArgs(Schema):
    days = fields.Integer(required=True, validate=validate.Range(min=0, max=3650),
                          metadata={"description": "Delete the entries older than this many days."})


class LogRecordSchema(Schema):
    id = fields.Integer()
    kind = fields.String(attribute="category")
    level = fields.String()
    tool_id = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    source = fields.String()
    message = fields.String()
    data = fields.Raw(allow_none=True)
    created_at = UTCDateTime()


class DeletedSchema(Schema):
    deleted = fields.Integer(required=True)
