"""One JSON error shape for every 4xx and 5xx answer, flask-smorest's:

    {"code": 404, "status": "Not Found", "message": "...", "errors": {...}}   # errors: optional

`abort(status, message=..., errors=...)` (flask-smorest's, re-exported here) raises one from a view.
Werkzeug's own errors (404, 405, ...), webargs validation (422) and malformed JSON (400), rate limits
(429) and flask-jwt-extended's errors (401, via the loaders in `api.auth.tokens`) all end up here.
An unexpected exception is logged with its traceback and answered with a generic 500.
"""
from __future__ import annotations

import logging
import math
import time

import peewee
import redis
from flask import Flask, Response, current_app, jsonify
from flask_limiter import RateLimitExceeded
from flask_smorest import abort
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

__all__ = ["abort", "error_body", "error_response", "register_error_handlers"]

log = logging.getLogger("mcps.api")


def error_body(code: int, message: str | None = None, errors: dict | None = None) -> dict:
    body = {"code": code, "status": HTTP_STATUS_CODES.get(code, "Unknown Error"),
            "message": message or HTTP_STATUS_CODES.get(code, "error")}
    if errors:
        body["errors"] = errors
    return body


def error_response(code: int, message: str | None = None, *, errors: dict | None = None,
                   headers: dict | None = None) -> Response:
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    response.headers.update(headers or {})
    return response


def http_error_response(error: HTTPException) -> Response:
    """The JSON answer for any HTTPException: smorest's `abort` data, else Werkzeug's description."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    if code >= 500:
        message = data.get("message") or "internal server error"
    elif isinstance(error, RateLimitExceeded):
        message = f"rate limit exceeded: {error.description}"
        headers.setdefault("Retry-After", _retry_after())
    else:
        message = data.get("message") or error.description
    errors = data.get("errors") or data.get("messages")
    if errors and not data.get("message"):
        message = "the request is not valid: see errors"
    return error_response(code, message, errors=errors, headers=headers)


def _retry_after() -> str:
    """Seconds until the breached window resets (only computed on a 429: headers are off otherwise)."""
    limiters = current_app.extensions.get("limiter") or set()
    for limiter in limiters if isinstance(limiters, (set, list, tuple)) else [limiters]:
        current = limiter.current_limit
        if current is not None:
            return str(max(1, min(math.ceil(current.reset_at - time.time()), current.limit.get_expiry())))
    return "60"


def unexpected_error_response(error: Exception) -> Response:
    """Backing services down are a 503 the client may retry; anything else is a logged 500."""
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        log.warning("event=api.redis_unavailable error=%r", str(error))
        return error_response(503, "Redis is unavailable, retry later", headers={"Retry-After": "5"})
    if isinstance(error, (peewee.OperationalError, peewee.InterfaceError)):
        log.warning("event=api.database_unavailable error=%r", str(error))
        return error_response(503, "the database is unavailable, retry later", headers={"Retry-After": "5"})
    log.exception("event=api.unhandled_error type=%s", type(error).__name__)
    return error_response(500, "internal server error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(Exception, unexpected_error_response)
