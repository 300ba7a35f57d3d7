"""Limits on request bodies: their size (413, refused before the body is read) and how deeply their
JSON nests (422: the standard parser recurses once per level and a deep enough body is a RecursionError).

webargs parses JSON bodies itself, with the standard library: `api.bodies.Blueprint` (every blueprint's
class) parses with `JsonBodyParser`, which adds the depth check; the app's JSON provider does the same
for `request.get_json`.
"""
from __future__ import annotations

import json

import flask_smorest
from flask import Flask, current_app
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, abort as webargs_abort
from werkzeug.exceptions import UnprocessableEntity

from api.extensions import SETTINGS_KEY


def json_depth_exceeded(value, limit: int) -> bool:
    """Does `value` nest arrays/objects more than `limit` deep? (iterative: no recursion to exhaust)"""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def loads_limited(text: str | bytes, limit: int):
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = json_depth_exceeded(value, limit)
    if too_deep:
        raise UnprocessableEntity(f"the JSON body nests deeper than {limit} levels")
    return value


class LimitedJSONProvider(DefaultJSONProvider):
    max_depth = 64

    def loads(self, s, **kwargs):
        return loads_limited(s, self.max_depth)


class JsonBodyParser(FlaskParser):
    """webargs' parser, with the depth limit on JSON bodies."""

    def _raw_load_json(self, req):
        limit = current_app.extensions[SETTINGS_KEY].server.max_json_depth
        try:
            value = super()._raw_load_json(req)
        except RecursionError:
            raise UnprocessableEntity(f"the JSON body nests deeper than {limit} levels") from None
        if value is not core.missing and json_depth_exceeded(value, limit):
            raise UnprocessableEntity(f"the JSON body nests deeper than {limit} levels")
        return value

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        # The message names the first problem (the `errors` member has them all).
        problem = first_problem(error.messages)
        webargs_abort(error_status_code or self.DEFAULT_VALIDATION_STATUS, exc=error, messages=error.messages,
                      schema=schema, headers=error_headers,
                      message=f"the request is not valid: {problem}" if problem else None)


def first_problem(messages, path: tuple = ()) -> str | None:
    """`json.steps.0: needs a call` for marshmallow's nested error messages: the first one, with where."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            found = first_problem(value, (*path, str(key)))
            if found:
                return found
        return None
    if isinstance(messages, list) and messages and all(isinstance(item, str) for item in messages):
        return f"{'.'.join(path)}: {messages[0]}" if path else messages[0]
    if isinstance(messages, list):
        for value in messages:
            found = first_problem(value, path)
            if found:
                return found
    return messages if isinstance(messages, str) else None


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose `@arguments` parse JSON with JsonBodyParser: every blueprint
    of the API is one of these."""

    ARGUMENTS_PARSER = JsonBodyParser()


def init_bodies(app: Flask, settings) -> None:
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_body_bytes  # Werkzeug: 413 before reading
    app.json = LimitedJSONProvider(app)
    app.json.max_depth = settings.server.max_json_depth
    app.json.sort_keys = False
