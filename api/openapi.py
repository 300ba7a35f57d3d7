"""The OpenAPI 3 document (`/openapi.json`) and its two readers, Swagger UI (`/docs`) and ReDoc (`/redoc`).

Their scripts are served by this app, not a CDN: Swagger UI from the pinned PyPI package
`swagger-ui-bundle-v2`, ReDoc from `api/static/redoc` (vendored, see its README).
"""
from __future__ import annotations

import re
from pathlib import Path

import flask_smorest
from apispec import BasePlugin
from flask import Blueprint, Flask, send_from_directory
from marshmallow import fields
from swagger_ui_bundle import swagger_ui_path

from api.errors import http_error_response
from api.extensions import SETTINGS_KEY
from api.schemas import AnyOf, SettingBound

ASSETS_URL = "/docs/assets"
REDOC_DIR = Path(__file__).with_name("static") / "redoc"
DOCS_DIR = Path(__file__).with_name("static") / "docs"  # our own page scripts (no inline script: CSP)


class Api(flask_smorest.Api):
    """flask-smorest's Api answering HTTP errors in our shape (always with a message)."""

    def handle_http_exception(self, error):
        return http_error_response(error)


class SchemaExtrasPlugin(BasePlugin):
    """A schema class's `openapi_extra` (a rule across its fields, such as an `anyOf` of the shapes a
    tool definition may take) joins its component in the document."""

    def schema_helper(self, name, definition, schema=None, **kwargs):
        schema_class = schema if isinstance(schema, type) else type(schema)
        return dict(getattr(schema_class, "openapi_extra", None) or {})


class ResourceLinksPlugin(BasePlugin):
    """OpenAPI links from the answers that create tools, sessions and tasks to every operation that
    takes their id, so a client (or a fuzzer's stateful run) can follow a new id to its operations."""

    # (path, method, status) of a creating answer: the path parameter it fills, and from where.
    CREATORS = {
        ("/api/v1/tools", "post", "201"): ("tool_ref", "$response.body#/id"),
        ("/api/v1/sessions", "post", "201"): ("session_id", "$response.body#/id"),
        ("/api/v1/sessions/auto", "post", "200"): ("session_id", "$response.body#/id"),
        ("/api/v1/tasks", "post", "201"): ("task_id", "$response.body#/id"),
        ("/api/v1/tools/{tool_ref}/call", "post", "202"): ("task_id", "$response.body#/task_id"),
        ("/api/v1/tools/{tool_ref}/start", "post", "202"): ("task_id", "$response.body#/task_id"),
        ("/api/v1/mcp/agent/execute", "post", "202"): ("task_id", "$response.body#/task_id"),
    }
    STREAMS = ("/events",)  # endless answers: not worth following

    def __init__(self):
        self.creators = []  # (parameter, expression, the answer's links dict)
        self.targets = []  # (parameter, path, method)

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            for (creator_path, creator_method, status), (parameter, expression) in self.CREATORS.items():
                answer = responses.get(int(status), responses.get(status))  # keyed by int until the document is built
                if (path, method) == (creator_path, creator_method) and isinstance(answer, dict):
                    links = answer.setdefault("links", {})
                    self.creators.append((parameter, expression, links))
                    for target in self.targets:
                        self._link(links, parameter, expression, *target)
            for parameter in {parameter for parameter, _ in self.CREATORS.values()}:
                if "{%s}" % parameter in path and not path.endswith(self.STREAMS):
                    self.targets.append((parameter, path, method))
                    for creator in self.creators:
                        self._link(creator[2], creator[0], creator[1], parameter, path, method)

    @staticmethod
    def _link(links: dict, parameter: str, expression: str, target_parameter: str, path: str, method: str) -> None:
        if parameter != target_parameter:
            return
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{method} {path.removeprefix('/api/v1/')}").strip("_")
        pointer = path.replace("~", "~0").replace("/", "~1")
        links[name] = {"operationRef": f"#/paths/{pointer}/{method}", "parameters": {parameter: expression}}


def _assets_blueprint() -> Blueprint:
    assets = Blueprint("docs_assets", __name__, url_prefix=ASSETS_URL)

    @assets.get("/swagger-ui/<path:filename>")
    def swagger_ui_asset(filename):
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    @assets.get("/redoc/<path:filename>")
    def redoc_asset(filename):
        return send_from_directory(REDOC_DIR, filename, max_age=86400)

    @assets.get("/docs/<path:filename>")
    def docs_asset(filename):
        return send_from_directory(DOCS_DIR, filename, max_age=86400)

    return assets


def _describe_own_fields(api: Api, settings) -> None:
    """Teach apispec the fields and validators of api.schemas, so the document states the rules the
    validation applies: `anyOf` for AnyOf, this app's configured bounds for SettingBound."""
    converter = api.ma_plugin.converter

    def any_of(self, field, **_kwargs) -> dict:
        if not isinstance(field, AnyOf):
            return {}
        return {"anyOf": [self.resolve_nested_schema(schema) for schema in field.schemas]}

    def setting_bounds(self, field, **_kwargs) -> dict:
        return {validator.keyword: validator.bound(settings)
                for validator in field.validators if isinstance(validator, SettingBound)}

    def dict_keys(self, field, **_kwargs) -> dict:
        # apispec documents a Dict's values only: keys with a rule (env names, header names) need theirs.
        keys = getattr(field, "key_field", None)
        if not isinstance(field, fields.Dict) or keys is None or not keys.validators:
            return {}
        return {"propertyNames": self.field2property(keys)}

    converter.add_attribute_function(any_of)
    converter.add_attribute_function(dict_keys)
    converter.add_attribute_function(setting_bounds)


def init_openapi(app: Flask, version: str) -> Api:
    app.config.update(
        API_TITLE="MCPS API",
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{ASSETS_URL}/swagger-ui/",
        OPENAPI_REDOC_PATH="redoc",
        OPENAPI_REDOC_URL=f"{ASSETS_URL}/redoc/redoc.standalone.js",
        API_SPEC_OPTIONS={"info": {"description": (
            "Manage MCP servers (tools), call them, and follow their tasks. Authenticate with "
            "`Authorization: Bearer <access token>` from `POST /api/v1/auth/login`, or with an API key "
            "(`X-API-Key: mcps_...` or `Authorization: Bearer mcps_...`). Errors are always "
            "`{code, status, message, errors?}`.")}},
    )
    api = Api(app, spec_kwargs={"extra_plugins": [SchemaExtrasPlugin(), ResourceLinksPlugin()]})
    _describe_own_fields(api, app.extensions[SETTINGS_KEY])
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.components.security_scheme(
        "apiKeyAuth", {"type": "apiKey", "in": "header", "name": "X-API-Key",
                       "description": "An API key `mcps_...`; `Authorization: Bearer mcps_...` works too."})
    app.register_blueprint(_assets_blueprint())
    return api
