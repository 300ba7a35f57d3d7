"""Rate limits (flask-limiter, counters in Redis under the settings' key namespace).

Every `/api/` request counts against one of two budgets of its caller (the user behind a JWT or an API
key; the client IP when anonymous): `rate_limits.management` here, for everything but the views marked
`@call_rate_limit` (tool calls: agents must not hit it). Those spend `rate_limits.calls` instead, counted
per API key or user by the job path itself (api.jobs.call_budget: checked inside the enqueue script, so
it costs no extra round trip). A refused request is a 429 in the one error shape, with Retry-After.
"""
from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import ApplicationLimit, Limiter

from api.auth.access import optional_caller
from config import Section
from jobs.keys import key

CALL_LIMIT_ATTR = "mcps_call_rate_limit"
UNLIMITED_PATHS = ("/api/v1/system/health",)  # probed by load balancers and monitors


def call_rate_limit(view):
    """Mark a view or MethodView method as a tool call: `rate_limits.calls` applies to it instead of
    `rate_limits.management`. Works in any position among the other decorators."""
    setattr(view, CALL_LIMIT_ATTR, True)
    return view


def rate_limit_key() -> str:
    caller = optional_caller()
    return f"user:{caller.user.id}" if caller else f"ip:{request.remote_addr}"


def _handler():
    """The function that will answer this request (the method of a MethodView)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        return getattr(view_class, method, None) or (getattr(view_class, "get", None) if method == "head" else None)
    return view


def _limited() -> bool:
    # CORS preflights are the browser's, not the caller's: they do not spend its budget.
    return (request.path.startswith("/api/") and request.path not in UNLIMITED_PATHS
            and request.method != "OPTIONS")


def is_management_request() -> bool:
    return _limited() and not getattr(_handler(), CALL_LIMIT_ATTR, False)


def storage_uri(settings: Section) -> str:
    if settings.rate_limits.storage == "memory":
        return "memory://"
    url = settings.redis.url
    return "redis+unix://" + url[len("unix://"):] if url.startswith("unix://") else url


def _retry_after_only_when_meaningful(response):
    # flask-limiter puts its window's Retry-After on every response: keep it where it means something.
    if response.status_code not in (423, 429, 503):
        response.headers.pop("Retry-After", None)
    return response


def init_rate_limits(app: Flask, settings: Section) -> Limiter:
    app.after_request(_retry_after_only_when_meaningful)  # registered first: runs after the limiter's
    options = {} if settings.rate_limits.storage == "memory" else {"key_prefix": key(settings, "ratelimit")}
    limiter = Limiter(
        rate_limit_key,
        application_limits=[ApplicationLimit(settings.rate_limits.management, scope="management")],
        storage_uri=storage_uri(settings),
        storage_options=options,
        strategy="fixed-window",
        headers_enabled=False,  # X-RateLimit-* on every answer cost a Redis round trip each
        retry_after="delta-seconds",
        swallow_errors=True,  # Redis down: serve without limits (logged) rather than fail every request
    )
    # Requests outside the management budget skip the limiter altogether (resolving its limits costs a
    # call ~0.1 ms): tool calls have their own budget, checked by the enqueue script.
    limiter.request_filter(lambda: not is_management_request())
    limiter.init_app(app)
    return limiter
