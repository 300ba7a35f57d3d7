"""Marshmallow pieces shared by every blueprint."""
from __future__ import annotations

from datetime import datetime, timezone

from marshmallow import RAISE, Schema, fields


class UTCDateTime(fields.DateTime):
    """The database keeps naive UTC datetimes: dump them with an explicit `+00:00`, and load any
    ISO 8601 value (an offset is converted to UTC, no offset means UTC) back to naive UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed


class StrictSchema(Schema):
    """A request body: an unknown field is a 422 naming it, not silently dropped."""

    class Meta:
        unknown = RAISE
