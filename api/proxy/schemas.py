"""Schemas of /api/v1/proxy: the front door's status, its live config and virtual servers."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from api.schemas import Pattern, StrictSchema
from api.tools.schemas import SLUG

NAMING_POLICIES = ("on_conflict", "always")
# MCP tool names as the specification advises them (1-128 of letters, digits, _ - . /).
MCP_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,128}$")
_NAMES = fields.List(fields.String(validate=validate.Length(min=1, max=128)), validate=validate.Length(max=1000))


class ToolRef(fields.Field):
    """A tool by id (a number) or by name (a string); resolved to its id by the view."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})["anyOf"] = [{"type": "integer"}, {"type": "string", "minLength": 1}]
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, str)) or value in ("", None):
            raise ValidationError("must be a tool's id or name")
        return value


class MemberSchema(StrictSchema):
    tool = ToolRef(required=True, metadata={"description": "The tool (MCP server), by id or name"})
    include = fields.List(fields.String(validate=validate.Length(min=1, max=128)), allow_none=True,
                          load_default=None, validate=validate.Length(max=1000),
                          metadata={"description": "Only these of its MCP tools (null: all)"})
    hidden = _NAMES
    renames = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=128)),
                          values=fields.String(validate=Pattern(MCP_NAME, error="not a valid MCP tool name")),
                          metadata={"description": "{its name: the name clients see}"})
    descriptions = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=128)),
                               values=fields.String(validate=validate.Length(max=5000)),
                               metadata={"description": "{its name: the description clients see}"})

    @validates_schema
    def _renames_unique(self, data, **_):
        targets = list((data.get("renames") or {}).values())
        if len(targets) != len(set(targets)):
            raise ValidationError("two tools renamed to the same name", "renames")


class VirtualServerSchema(StrictSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=64), Pattern(
        SLUG, error="must be a slug: lowercase letters, digits and hyphens, 1-64 chars")],
                         metadata={"description": "Slug: served at /mcp/servers/<name>"})
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    tools = fields.List(fields.Nested(MemberSchema), required=True, validate=validate.Length(min=1, max=200))

    @validates_schema
    def _distinct(self, data, **_):
        refs = [str(member["tool"]) for member in data.get("tools") or []]
        if len(refs) != len(set(refs)):
            raise ValidationError("a tool is listed twice", "tools")
        shown = [new for member in data.get("tools") or [] for new in (member.get("renames") or {}).values()]
        if len(shown) != len(set(shown)):
            raise ValidationError("two tools renamed to the same name", "tools")


class ProxyConfigSchema(StrictSchema):
    naming = fields.String(validate=validate.OneOf(NAMING_POLICIES),
                           metadata={"description": "on_conflict: <tool>__<name> only for shared names; always: every name"})
    virtual_servers = fields.List(fields.Nested(VirtualServerSchema), validate=validate.Length(max=100),
                                  metadata={"description": "Replaces every virtual server when given"})

    @validates_schema
    def _unique_names(self, data, **_):
        names = [server["name"] for server in data.get("virtual_servers") or []]
        if len(names) != len(set(names)):
            raise ValidationError("two virtual servers share a name", "virtual_servers")


class MemberOutSchema(Schema):
    tool_id = fields.Integer()
    tool = fields.String(allow_none=True, metadata={"description": "The tool's current name (null: deleted)"})
    include = fields.List(fields.String(), allow_none=True)
    hidden = fields.List(fields.String())
    renames = fields.Dict(keys=fields.String(), values=fields.String())
    descriptions = fields.Dict(keys=fields.String(), values=fields.String())


class VirtualServerOutSchema(Schema):
    name = fields.String()
    description = fields.String()
    path = fields.String(metadata={"description": "Where the front door serves it"})
    tools = fields.List(fields.Nested(MemberOutSchema))


class AppliedSchema(Schema):
    generation = fields.Integer(metadata={"description": "The config generation proxy processes apply"})
    pending_processes = fields.List(fields.String(), metadata={
        "description": "Live proxy processes that had not applied the change when this answered"})


class ProxyConfigOutSchema(AppliedSchema):
    naming = fields.String()
    virtual_servers = fields.List(fields.Nested(VirtualServerOutSchema))


class ProcessStatusSchema(Schema):
    id = fields.String()
    pid = fields.Integer()
    host = fields.String()
    listen = fields.String()
    serving = fields.Boolean()
    started_at = fields.Float()
    last_seen = fields.Float()
    in_flight = fields.Integer()
    sse_streams = fields.Integer()
    requests_1m = fields.Integer()
    calls_1m = fields.Integer()
    errors_1m = fields.Integer()
    p50_ms = fields.Float(allow_none=True)
    config_generation = fields.Integer()
    naming = fields.String()


class ProxyStatusSchema(Schema):
    serving = fields.Boolean(metadata={"description": "At least one live proxy process, accepting new sessions"})
    accepting_new_sessions = fields.Boolean(metadata={"description": "false after POST .../stop"})
    draining = fields.Boolean(metadata={"description": "Stopped, with requests still in flight"})
    processes = fields.Integer()
    sessions = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Open sessions by era: handshake (2025-11-25 and older, in Redis; includes the SSE ones) "
                       "and legacy_sse streams. The 2026-07-28 era has no sessions: see requests_per_min"})
    requests_per_min = fields.Dict(keys=fields.String(), values=fields.Integer())
    calls_per_min = fields.Integer()
    errors_per_min = fields.Integer()
    p50_ms = fields.Float(allow_none=True, metadata={"description": "Median call latency at the front door, last minute"})
    in_flight = fields.Integer()
    per_process = fields.List(fields.Nested(ProcessStatusSchema))
