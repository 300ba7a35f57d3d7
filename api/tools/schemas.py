"""Schemas of /api/v1/tools: definitions (validated strictly), state, calls, import/export."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from api.ids import Id
from api.pagination import PageArgs
from api.schemas import AnyOf, Pattern, StrictSchema, UTCDateTime, http_url
from models.tools import STATUSES, TRANSPORTS

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# A tool's name: a slug with a letter (/tools/<ref> reads a number as an id). One pattern validates it
# and states it in the OpenAPI document (with the length: 1 to 64).
TOOL_NAME = (r"^(?:[a-z]|[a-z][a-z0-9-]*[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z]"
             r"|[a-z0-9][a-z0-9-]*[a-z][a-z0-9-]*[a-z0-9])$")
SLUG_ERROR = "must be a slug: lowercase letters, digits and hyphens, 1-64 chars, with a letter"


def tool_name_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=64), Pattern(TOOL_NAME, error=SLUG_ERROR)],
                         metadata={"description": "Unique slug: lowercase letters, digits, hyphens."}, **kwargs)

MASK = "********"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token


class ToolDefinitionSchema(StrictSchema):
    """Every writable field; required ones are enforced on create by ToolCreateSchema."""

    name = tool_name_field()
    display_name = fields.String(validate=validate.Length(max=200))
    description = fields.String(validate=validate.Length(max=5000))
    category = fields.String(validate=validate.Length(max=64))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=50))
    transport = fields.String(validate=validate.OneOf(TRANSPORTS))
    command = fields.String(validate=validate.Length(min=1, max=4096), allow_none=True)
    args = fields.List(fields.String(validate=validate.Length(max=4096)), validate=validate.Length(max=200))
    env = fields.Dict(keys=fields.String(validate=Pattern(ENV_NAME, error="not a valid environment variable name")),
                      values=fields.String(), allow_none=True,
                      metadata={"description": "Environment of a stdio server; stored encrypted, masked in answers."})
    cwd = fields.String(allow_none=True, validate=validate.Length(min=1, max=4096))
    url = fields.String(allow_none=True, validate=http_url)
    headers = fields.Dict(keys=fields.String(validate=Pattern(HEADER_NAME, error="not a valid HTTP header name")),
                          values=fields.String(), allow_none=True,
                          metadata={"description": "HTTP headers; stored encrypted, masked in answers."})
    auto_start = fields.Boolean()
    restart_on_failure = fields.Boolean()
    max_restart_attempts = fields.Integer(validate=validate.Range(min=0, max=100))
    call_timeout_s = fields.Float(validate=validate.Range(min=0.1, max=3600))
    memory_limit_mb = fields.Integer(allow_none=True, validate=validate.Range(min=16))
    cpu_limit_percent = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100))


HTTP_TRANSPORTS = tuple(transport for transport in TRANSPORTS if transport != "stdio")
# check_transport_fields as JSON Schema, for the document: a stdio tool has a command and no url or
# headers; an HTTP tool has a url and no command, args, env or cwd (an empty or null value is none).
TRANSPORT_SHAPES = {"anyOf": [
    {"required": ["command"], "properties": {
        "transport": {"enum": ["stdio"]}, "command": {"type": "string"}, "url": {"enum": [None]},
        "headers": {"maxProperties": 0}}},
    {"required": ["url"], "properties": {
        "transport": {"enum": list(HTTP_TRANSPORTS)}, "url": {"type": "string"}, "command": {"enum": [None]},
        "args": {"maxItems": 0}, "env": {"maxProperties": 0}, "cwd": {"enum": [None]}}},
]}


class ToolCreateSchema(ToolDefinitionSchema):
    openapi_extra = TRANSPORT_SHAPES
    name = tool_name_field(required=True)
    transport = fields.String(required=True, validate=validate.OneOf(TRANSPORTS))

    @validates_schema
    def _transport_fields(self, data, **_):
        check_transport_fields(data)


def check_transport_fields(data: dict) -> None:
    """stdio needs a command and no url; HTTP transports need a url and no command."""
    if data.get("transport") == "stdio":
        if not data.get("command"):
            raise ValidationError({"command": ["required for a stdio tool"]})
        if data.get("url") or data.get("headers"):
            raise ValidationError({"url": ["a stdio tool has no url or headers"]})
    elif data.get("transport") in HTTP_TRANSPORTS:
        if not data.get("url"):
            raise ValidationError({"url": ["required for an HTTP tool"]})
        if data.get("command") or data.get("args") or data.get("env") or data.get("cwd"):
            raise ValidationError({"command": ["an HTTP tool has no command, args, env or cwd"]})


class ToolSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    display_name = fields.String()
    description = fields.String()
    category = fields.String()
    tags = fields.List(fields.String())
    transport = fields.String()
    command = fields.String(allow_none=True)
    args = fields.List(fields.String())
    env = fields.Method("masked_env", allow_none=True)
    cwd = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    headers = fields.Method("masked_headers", allow_none=True)
    auto_start = fields.Boolean()
    restart_on_failure = fields.Boolean()
    max_restart_attempts = fields.Integer()
    call_timeout_s = fields.Float()
    memory_limit_mb = fields.Integer(allow_none=True)
    cpu_limit_percent = fields.Integer(allow_none=True)
    desired_state = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    pid = fields.Integer(allow_none=True)
    restart_count = fields.Integer()
    last_error = fields.String(allow_none=True)
    started_at = UTCDateTime(allow_none=True)
    owner_worker = fields.String(allow_none=True)
    protocol_version = fields.String(allow_none=True)
    server_info = fields.Dict(allow_none=True)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()

    def masked_env(self, tool):
        return {name: MASK for name in tool.env} if tool.env else tool.env

    def masked_headers(self, tool):
        return {name: MASK for name in tool.headers} if tool.headers else tool.headers


class ToolListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    transport = fields.String(validate=validate.OneOf(TRANSPORTS))
    category = fields.String()
    tag = fields.String()
    q = fields.String(metadata={"description": "Search in name, display name and description."})


class WaitArgs(Schema):
    wait = fields.Boolean(load_default=False, metadata={"description": "Wait for the outcome (bounded)."})
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600),
                           metadata={"description": "Seconds to wait at most with wait=true."})


class CallArgs(Schema):
    async_ = fields.Boolean(data_key="async", load_default=False,
                            metadata={"description": "Answer 202 with a task id instead of waiting."})


class CallSchema(StrictSchema):
    tool = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "The MCP tool's name on this server."})
    arguments = fields.Dict(load_default=dict)
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600))
    session_id = Id()


class ReadResourceSchema(StrictSchema):
    uri = fields.String(required=True, validate=validate.Length(min=1, max=4096))
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600))


class GetPromptSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    arguments = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600))


class PromptRefSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.Equal("ref/prompt"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"description": "The prompt"})


class ResourceRefSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.Equal("ref/resource"))
    uri = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                        metadata={"description": "The resource template's URI template"})


class CompletionArgumentSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    value = fields.String(load_default="", validate=validate.Length(max=10000))


class CompletionContextSchema(StrictSchema):
    arguments = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class CompleteSchema(StrictSchema):
    """MCP `completion/complete`, as its params are on the wire."""
    ref = AnyOf(PromptRefSchema, ResourceRefSchema, required=True)
    argument = fields.Nested(CompletionArgumentSchema, required=True)
    context = fields.Nested(CompletionContextSchema)
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600))


class LogArgs(PageArgs):
    source = fields.String(metadata={"description": "stderr, lifecycle, server, transport, api (who asked)"})
    level = fields.String(validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]))
    tail = fields.Integer(validate=validate.Range(min=1, max=1000),
                          metadata={"description": "Only the last N lines (oldest first)."})


class LogEntrySchema(Schema):
    id = fields.Integer()
    level = fields.String()
    source = fields.String()
    message = fields.String()
    task_id = fields.String(allow_none=True)
    created_at = UTCDateTime()


class McpServersSchema(Schema):
    """The `mcpServers` document of Claude Desktop and Cursor."""

    mcpServers = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)


class ImportArgs(Schema):
    replace = fields.Boolean(load_default=False, metadata={"description": "Overwrite tools with the same name."})


class ExportArgs(Schema):
    include_secrets = fields.Boolean(load_default=False,
                                     metadata={"description": "Export env values and headers in clear."})
