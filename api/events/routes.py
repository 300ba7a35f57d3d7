"""Live events: SSE at /api/v1/events and a WebSocket at /api/v1/ws, both following the Redis stream of
jobs.live_events, so every API process sees every event.

- Subscription: `?kinds=log,tool_status` (default all) and `?tools=echo,3` (default all you may see).
- Resume: SSE clients send `Last-Event-ID` (browsers do on reconnect), or `?last_event_id=`; both
  transports start right after that event, else with the next new one.
- Auth: a login (JWT) or an API key in the headers, like every endpoint; a browser's WebSocket cannot set
  headers, so /ws also takes `?access_token=<JWT>`. Each event is checked against what the caller may see.
- Each open stream holds a server thread (gunicorn gthread): they count against
  mcp.jobs.event_streams_per_user, like /tasks/{id}/events.
"""
from __future__ import annotations

import json

from flask import Response, g, request, stream_with_context
from flask_jwt_extended import decode_token
from jwt.exceptions import PyJWTError
from simple_websocket import ConnectionClosed, Server

from api.auth import Caller, authenticate, require_role
from api.auth.tokens import is_revoked
from api.bodies import Blueprint
from api.errors import abort
from api.events.filters import Subscription, wanted
from api.extensions import get_redis, get_settings
from api.waits import waiting_threads
from jobs import live_events
from models import User

blp = Blueprint("events", __name__, url_prefix="", description="Live events (SSE and WebSocket)")
KEEPALIVE_MS = 15000
WS_POLL_MS = 1000  # how often a quiet WebSocket notices its client went away


def _start_id(explicit: str | None) -> str:
    start = explicit or request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if start:
        if not all(part.isdigit() for part in start.split("-", 1)):
            abort(422, message="last event id: not a stream id like 1700000000000-0",
                  errors={"last_event_id": ["not an event id"]})
        return start
    return live_events.latest_id(get_redis(), get_settings())


def _hold_a_thread() -> str:
    waits, waiter = waiting_threads(), f"user:{authenticate().user.id}"
    per_user = get_settings().mcp.jobs.event_streams_per_user
    if not waits.take(waiter, per_user):
        abort(429, message=f"too many open event streams (at most {per_user} per user)",
              errors={"error_type": "rate_limited"}, headers={"Retry-After": "5"})
    return waiter


@blp.route("/events")
@require_role("viewer")
def events_sse():
    """Server-sent events: tool status changes, log lines, task progress, alerts, proxy sessions (resume with Last-Event-ID)"""
    caller, subscription = authenticate(), Subscription.from_query(request.args)
    start = _start_id(None)
    client, settings = get_redis(), get_settings()
    waiter = _hold_a_thread()

    def stream():
        yield ": stream open\n\n"
        for event in live_events.follow(client, settings, start, KEEPALIVE_MS):
            if event is None:
                yield ": keep-alive\n\n"
            elif wanted(caller, subscription, event):
                yield f"id: {event['id']}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"

    response = Response(stream_with_context(stream()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    waits = waiting_threads()
    response.call_on_close(lambda: waits.give_back(waiter))
    return response


def _authenticate_ws() -> Caller:
    """Headers as everywhere; else `?access_token=` (an access JWT), which a browser's WebSocket can send."""
    token = request.args.get("access_token")
    if token and not (request.headers.get("Authorization") or request.headers.get("X-API-Key")):
        try:
            payload = decode_token(token)
        except PyJWTError:
            abort(401, message="the access token is not valid")
        user = User.get_or_none(User.id == int(payload["sub"]))
        if payload.get("type") != "access" or user is None or not user.is_active or is_revoked({}, payload):
            abort(401, message="the access token is not valid")
        g.mcps_caller = Caller(user=user, token=payload)
    return authenticate()


@blp.route("/ws")
@blp.doc(security=[{"bearerAuth": []}, {"apiKeyAuth": []}])  # credentials are needed (documented as public before)
def events_ws():
    """WebSocket: the same events as /events, one JSON object a message (`?last_event_id=` to resume)"""
    caller = _authenticate_ws()
    if not caller.user.is_active:
        abort(403, message="this account is disabled")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        abort(400, message="this endpoint speaks WebSocket: send an Upgrade: websocket request")
    subscription = Subscription.from_query(request.args)
    start = _start_id(request.args.get("last_event_id"))
    client, settings = get_redis(), get_settings()
    waiter = _hold_a_thread()
    ws = Server(request.environ)
    try:
        for event in live_events.follow(client, settings, start, WS_POLL_MS):
            if not ws.connected:
                break
            if event is not None and wanted(caller, subscription, event):
                ws.send(json.dumps(event))
    except ConnectionClosed:
        pass
    finally:
        waiting_threads().give_back(waiter)
        try:
            ws.close()
        except Exception:  # already gone: nothing to tell it
            pass
    return _WebSocketDone(ws.mode)


# Werkzeug routes an Upgrade: websocket request only to a rule marked websocket=True (and a plain request
# only to an unmarked one): the same view serves both, so that a plain GET gets 401/400 in the error shape.
blp.add_url_rule("/ws", endpoint="events_ws_upgrade", view_func=events_ws, websocket=True)


class _WebSocketDone(Response):
    """The connection was the WebSocket's: tell the server there is no HTTP answer to write (as flask-sock does)."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def __call__(self, environ, start_response):
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "werkzeug":
            return super().__call__(environ, start_response)
        return []
