"""A form for an MCP tool's input JSON schema: one field per property, of a kind the browser can edit.

    string → text, number / integer → number, boolean → checkbox, enum (or const) → select,
    array / object / anything else → JSON text

`anyOf`/`oneOf` with a null branch (an optional argument) reads as its other branch. static/js/tryit.js
turns the fields back into the call's arguments, by the same kinds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field as dataclass_field
from typing import Any

SIMPLE_KINDS = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean"}


@dataclass
class Field:
    name: str
    kind: str  # string | number | integer | boolean | enum | json
    required: bool
    title: str
    description: str = ""
    default: Any = None
    has_default: bool = False
    options: list[tuple[str, str]] = dataclass_field(default_factory=list)  # (JSON value, label) of an enum
    placeholder: str = ""

    @property
    def default_text(self) -> str:
        """The default as the field shows it ("" when none)."""
        if not self.has_default or self.default is None:
            return ""
        if self.kind == "json":
            return json.dumps(self.default)
        if self.kind == "enum":
            return json.dumps(self.default)
        return str(self.default)


def _without_null(schema: dict) -> dict:
    for combinator in ("anyOf", "oneOf"):
        branches = schema.get(combinator)
        if isinstance(branches, list):
            real = [branch for branch in branches if isinstance(branch, dict) and branch.get("type") != "null"]
            if len(real) == 1:
                merged = {key: value for key, value in schema.items() if key != combinator}
                return {**real[0], **merged}
    return schema


def field_for(name: str, schema: Any, required: bool) -> Field:
    schema = _without_null(schema if isinstance(schema, dict) else {})
    title = str(schema.get("title") or name)
    description = str(schema.get("description") or "")
    has_default = "default" in schema
    common = {"name": name, "required": required, "title": title, "description": description,
              "default": schema.get("default"), "has_default": has_default}
    values = schema.get("enum") if isinstance(schema.get("enum"), list) else (
        [schema["const"]] if "const" in schema else None)
    if values:
        return Field(kind="enum", options=[(json.dumps(value), str(value)) for value in values], **common)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in SIMPLE_KINDS:
        return Field(kind=SIMPLE_KINDS[kind], **common)
    placeholder = "[]" if kind == "array" else "{}" if kind == "object" else "a JSON value"
    return Field(kind="json", placeholder=placeholder, **common)


def fields_for(input_schema: Any) -> list[Field]:
    """The fields of an MCP tool's `inputSchema`, required ones first, each group in schema order."""
    schema = input_schema if isinstance(input_schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or [])
    fields = [field_for(name, prop, name in required) for name, prop in properties.items()]
    return sorted(fields, key=lambda f: not f.required)
