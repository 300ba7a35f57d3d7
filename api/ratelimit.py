"""Rate limits (flask-limiter, counters in Redis under the settings' key namespace).

Every `/api/` request counts against one of two budgets of its caller (the user behind a JWT or an API
key; the client IP when anonymous): `rate_limits.management` here, for everything but the views marked
`@call_rate_limit` (tool calls: agents must not hit it). Those spend `rate_limits.calls` instead, counted
per API key or user by the job path itself (api.jobs.call_budget: checked inside the enqueue script, so
it costs no extra round trip). Views marked `@poll_rate_limit` (following a task or a tool's status, as a
client does after a 202) have a budget of their own as generous as the calls' (`rate_limits.calls`,
per caller), so that polling never eats the management budget; so do the reads of a console session (a
GET made with the console's session cookie: the pages of the web console follow live state, a person
clicking through them must not run into the management limit). `/auth/login` is outside both: failed
logins are counted per username and per address by api.auth.lockout. A refused request is a 429 in
the one error shape, with Retry-After.
"""
from __future__ import annotations

import time

from flask import Flask, current_app, request
from flask_limiter import ApplicationLimit, Limiter

from api.auth.access import optional_caller
from api.auth.tokens import ACCESS_COOKIE
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.jobs import rate_limit
from config import Section
from jobs.keys import key

CALL_LIMIT_ATTR = "mcps_call_rate_limit"
POLL_LIMIT_ATTR = "mcps_poll_rate_limit"
# Probed by load balancers and monitors; login has its own failure counters (api.auth.lockout).
UNLIMITED_PATHS = ("/api/v1/system/health", "/api/v1/auth/login")


def call_rate_limit(view):
    """Mark a view or MethodView method as a tool call: `rate_limits.calls` applies to it instead of
    `rate_limits.management`. Works in any position among the other decorators."""
    setattr(view, CALL_LIMIT_ATTR, True)
    return view


def poll_rate_limit(view):
    """Mark a view as polling (a task, its events, a tool's status): it spends the poll budget, as
    generous as `rate_limits.calls`, instead of `rate_limits.management`."""
    setattr(view, POLL_LIMIT_ATTR, True)
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


def _is_console_read() -> bool:
    return (request.method in ("GET", "HEAD") and ACCESS_COOKIE in request.cookies
            and "Authorization" not in request.headers and "X-API-Key" not in request.headers)


def _spends_poll_budget() -> bool:
    return getattr(_handler(), POLL_LIMIT_ATTR, False) or _is_console_read()


def is_management_request() -> bool:
    return _limited() and not getattr(_handler(), CALL_LIMIT_ATTR, False) and not _spends_poll_budget()


def _spend_poll_budget() -> None:
    """A fixed window per caller in Redis (one round trip), for the views marked `@poll_rate_limit`."""
    if not _limited() or not _spends_poll_budget():
        return
    limit = rate_limit(get_settings().rate_limits.calls)  # as generous as the calls' budget, run-time setting
    window_s = limit.get_expiry()
    window = int(time.time() // window_s)
    counter = key(current_app.extensions["mcps.settings"], "ratelimit", "poll", rate_limit_key(), window)
    pipe = get_redis().pipeline(transaction=False)
    pipe.incr(counter)
    pipe.expire(counter, window_s + 1, nx=True)
    spent = pipe.execute()[0]
    if spent > limit.amount:
        retry_after = max(1, int((window + 1) * window_s - time.time()) + 1)
        abort(429, message=f"rate limit exceeded: {limit} (polling)", headers={"Retry-After": str(retry_after)})


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
    app.before_request(_spend_poll_budget)
    return limiter
