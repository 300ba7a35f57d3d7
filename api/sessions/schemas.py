"""Schemas of /api/v1/sessions: named groups of calls and their history."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.ids import Id
from api.pagination import PageArgs
from api.schemas import StrictSchema, UTCDateTime


class SessionSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    is_auto = fields.Boolean()
    metadata = fields.Dict(allow_none=True)
    message_count = fields.Method("count_messages")
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    last_activity_at = UTCDateTime()

    def count_messages(self, session) -> int:
        return session.messages.count()


class SessionWriteSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000))
    metadata = fields.Dict(allow_none=True)


class SessionCreateSchema(SessionWriteSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class SessionListArgs(PageArgs):
    is_auto = fields.Boolean()
    q = fields.String(metadata={"description": "Search in the name."})
    all_users = fields.Boolean(load_default=False, metadata={"description": "Admins: every user's sessions."})


class MessageSchema(Schema):
    id = fields.Integer()
    session_id = fields.Integer(attribute="session_id")
    user_id = fields.Integer(allow_none=True)
    tool_id = fields.Integer(allow_none=True)
    tool_name = fields.String()
    arguments = fields.Raw(allow_none=True)
    result_summary = fields.String(allow_none=True, metadata={
        "description": "A call's result content as JSON (cut at 500 characters), or the error of a failed call"})
    status = fields.String()
    is_error = fields.Boolean()
    duration_ms = fields.Float(allow_none=True)
    task_id = fields.String(allow_none=True)
    created_at = UTCDateTime()


class MessageListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(["succeeded", "failed", "cancelled"]))
    tool_id = Id()
    tool_name = fields.String()
