"""The `mcpServers` JSON of Claude Desktop, Cursor and VS Code, to and from tool definitions.

    {"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"], "env": {...}},
                    "remote": {"url": "https://host/mcp", "headers": {...}, "type": "http"}}}

Used by POST /tools/import, GET /tools/export and `flask --app api.wsgi tools import|export`.
"""
from __future__ import annotations

import re

from marshmallow import ValidationError

from api.tools.schemas import MASK, ToolCreateSchema
from models import Tool, db, utcnow

TRANSPORT_OF_TYPE = {"stdio": "stdio", "http": "streamable_http", "streamable-http": "streamable_http",
                     "streamable_http": "streamable_http", "streamableHttp": "streamable_http", "sse": "sse"}
# What a replaced entry resets when it does not say it: an HTTP entry must not keep a stdio command.
EXECUTION_DEFAULTS = {"command": None, "args": [], "env": None, "cwd": None, "url": None, "headers": None}
KNOWN_KEYS = {"command", "args", "env", "cwd", "url", "headers", "type", "transport", "disabled",
              "description", "autoStart", "timeout"}


def slug(name: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return value[:64].strip("-") or "tool"


def unmask(values: dict | None, stored: dict | None) -> dict | None:
    """`values` with every masked value (as answered by GET or a masked export) taken from `stored`."""
    if not values or not stored:
        return values
    return {name: stored.get(name, value) if value == MASK else value for name, value in values.items()}


def definition_from_entry(name: str, entry: dict) -> dict:
    """One mcpServers entry as a ToolCreateSchema payload (validated by the caller)."""
    if not isinstance(entry, dict):
        raise ValidationError({name: ["must be an object"]})
    unknown = set(entry) - KNOWN_KEYS
    if unknown:
        raise ValidationError({name: [f"unknown keys: {', '.join(sorted(unknown))}"]})
    kind = entry.get("type") or entry.get("transport")
    if kind is None:
        kind = "stdio" if "command" in entry else ("sse" if str(entry.get("url", "")).rstrip("/").endswith("/sse")
                                                   else "http")
    if kind not in TRANSPORT_OF_TYPE:
        raise ValidationError({name: [f"unknown type {kind!r}"]})
    definition = {"name": slug(name), "display_name": name, "transport": TRANSPORT_OF_TYPE[kind]}
    for key in ("command", "args", "env", "cwd", "url", "headers", "description"):
        if key in entry:
            definition[key] = entry[key]
    if "autoStart" in entry:
        definition["auto_start"] = bool(entry["autoStart"])
    if "timeout" in entry:
        definition["call_timeout_s"] = entry["timeout"]
    return definition


def parse_document(document: dict) -> list[dict]:
    """Validated tool definitions from a whole document; every error is reported, keyed by name."""
    servers = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(servers, dict):
        raise ValidationError({"mcpServers": ["an object of name -> server definition is required"]})
    schema, definitions, errors = ToolCreateSchema(), [], {}
    for name, entry in servers.items():
        try:
            definitions.append(schema.load(definition_from_entry(name, entry)))
        except ValidationError as error:
            errors[name] = error.messages.get(name, error.messages) if isinstance(error.messages, dict) else error.messages
    if errors:
        raise ValidationError(errors)
    names = [d["name"] for d in definitions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError({"mcpServers": [f"several servers map to the same tool name: {', '.join(duplicates)}"]})
    return definitions


def import_tools(definitions: list[dict], replace: bool, created_by: int | None) -> dict:
    """Create (or with `replace`, overwrite) tools; returns the names created, updated and skipped."""
    report = {"created": [], "updated": [], "skipped": []}
    with db.atomic():
        for definition in definitions:
            existing = Tool.get_or_none(Tool.name == definition["name"])
            if existing is None:
                Tool.create(created_by=created_by, **definition)
                report["created"].append(definition["name"])
            elif replace:
                definition = {**EXECUTION_DEFAULTS, **definition}
                definition["env"] = unmask(definition["env"], existing.env)
                definition["headers"] = unmask(definition["headers"], existing.headers)
                for field, value in definition.items():
                    setattr(existing, field, value)
                existing.updated_at = utcnow()
                existing.save()
                report["updated"].append(definition["name"])
            else:
                report["skipped"].append(definition["name"])
    return report


def export_tools(tools, include_secrets: bool) -> dict:
    servers = {}
    for tool in tools:
        secret = (lambda values: values) if include_secrets else (lambda values: {k: MASK for k in values})
        if tool.transport == "stdio":
            entry = {"command": tool.command, "args": list(tool.args or [])}
            if tool.env:
                entry["env"] = secret(tool.env)
            if tool.cwd:
                entry["cwd"] = tool.cwd
        else:
            entry = {"type": "sse" if tool.transport == "sse" else "http", "url": tool.url}
            if tool.headers:
                entry["headers"] = secret(tool.headers)
        if tool.description:
            entry["description"] = tool.description
        if tool.auto_start:
            entry["autoStart"] = True
        if tool.call_timeout_s != Tool.call_timeout_s.default:
            entry["timeout"] = tool.call_timeout_s
        servers[tool.name] = entry
    return {"mcpServers": servers}
