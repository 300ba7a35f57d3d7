"""The front door as an ASGI app: streamable HTTP at /mcp (every running tool) and /mcp/tools/<tool> (one
tool, as itself), both protocol eras on each.

- POST: one JSON-RPC message. 2026-07-28 requests (the `MCP-Protocol-Version` header, or the envelope in
  `params._meta`) stand alone; anything else belongs to a handshake-era session opened by `initialize`
  and named by `Mcp-Session-Id`, whose state is in Redis (sessions.py).
- GET: the session's server stream (list changes). DELETE: ends the session.
- An answer is JSON, and becomes an SSE stream only when a notification (progress, log) comes before it.

/mcp/servers/<name> serves a virtual server (virtual.py) the same way, and /sse + /messages the legacy
HTTP+SSE transport (sse.py). While the front door is stopped (heartbeat.py), no new session opens.

Raw ASGI rather than Starlette routing: four paths, and the per-request cost of a framework's request and
response objects is a measurable part of our budget.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
import uuid
from typing import Any

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, InboundLadderRejection, classify_inbound_request
from mcp_types import (CLIENT_INFO_META_KEY, INTERNAL_ERROR, INVALID_REQUEST, LOG_LEVEL_META_KEY,
                       PROTOCOL_VERSION_META_KEY)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY

from api.mcp_proxy import control, eras, policy, virtual, wire
from api.mcp_proxy.auth import Authenticator, Unauthorized
from api.mcp_proxy.bus import Bus
from api.mcp_proxy.catalog import Catalog
from api.mcp_proxy.heartbeat import Heartbeat, refuse_while_stopped
from api.mcp_proxy.metering import Meter, MeteredMethods
from api.mcp_proxy.methods import Methods, Request, Services
from api.mcp_proxy.notices import NoticeListener
from api.mcp_proxy.sessions import SessionStore, tell_listening
from api.mcp_proxy.sse import MESSAGES_PATH, SSE_PATH, SseTransport
from config import Section, secret
from jobs import AsyncJobClient
from jobs.connection import aredis_client
from models import bind_database, bind_encryption_key

log = logging.getLogger("mcps.proxy")
SESSION_HEADER = b"mcp-session-id"
KEEPALIVE_S = 15.0


class ProxyApp:
    def __init__(self, settings: Section, address: str = ""):
        self.settings = settings
        self.address = address  # host:port this process serves, as its heartbeat reports it
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.services: Services | None = None
        self.methods: Methods | None = None
        self.auth: Authenticator | None = None
        self.notices: NoticeListener | None = None
        self._background: list[asyncio.Task] = []

    # -- lifespan ---------------------------------------------------------------------------------

    async def startup(self) -> None:
        settings = self.settings
        bind_database(settings)
        bind_encryption_key(secret(settings, "encryption_key"))
        redis = aredis_client(settings)
        proxy = settings.mcp.proxy
        catalog = Catalog(naming=proxy.naming, refresh_s=proxy.catalog_refresh_s)
        await catalog.refresh()
        self.redis = redis
        self.services = Services(settings=settings, jobs=AsyncJobClient(settings, redis), catalog=catalog,
                                 sessions=SessionStore(redis, settings))
        meter = Meter()
        self.methods: Methods = MeteredMethods(self.services, meter)
        self.auth = Authenticator(settings, redis)
        self.sse = SseTransport(self, self.process_id)
        self.heartbeat = Heartbeat(settings, redis, meter, catalog, self.process_id, self.address,
                                   sse_streams=lambda: len(self.sse.streams), on_settings=self.apply_settings)
        await self.heartbeat.beat()  # the live config (naming, virtual servers) before the first request
        self.notices = NoticeListener(settings, catalog)
        self.bus = Bus(redis, {control.control_channel(settings): self.heartbeat.on_control,
                               self.sse.inbox: self.sse.on_inbox, **self.notices.handlers()},
                       on_reconnect=[self.notices.caught_up])
        await self.bus.subscribe()  # before any SSE stream is announced: its answers may come from elsewhere
        loop = asyncio.get_running_loop()
        for job in (catalog.run_refresher(), self.heartbeat.run(), self.bus.run()):
            self._background.append(loop.create_task(job))
        log.info("event=proxy.started naming=%s", proxy.naming)

    def apply_settings(self, settings: Section) -> None:
        """The run-time settings changed (heartbeat.py): the next calls take their budget and wait limit."""
        self.services.settings = settings
        self.services.budgets.clear()  # each caller's budget is parsed again from rate_limits.calls

    async def shutdown(self) -> None:
        for task in self._background:
            task.cancel()
        if self.services is not None:
            await self.sse.shutdown()
            await self.bus.close()
            await self.heartbeat.forget()
            await self.services.jobs.close()

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:
                    log.exception("event=proxy.startup_failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- HTTP -------------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        endpoint = _endpoint(scope["path"])
        legacy_sse = endpoint is None and scope["path"] in (SSE_PATH, MESSAGES_PATH)
        if endpoint is None and not legacy_sse:
            return await wire.send_bytes(send, 404, b'{"error":"not found"}')
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            caller = await self.auth.authenticate(headers)
        except Unauthorized as refusal:
            error = wire.RpcError(INVALID_REQUEST, f"Unauthorized: {refusal}")
            return await wire.send_json(send, 401, error.body(None),
                                        [(b"www-authenticate", refusal.www_authenticate().encode())])
        method = scope["method"]
        if legacy_sse:
            if scope["path"] == SSE_PATH and method == "GET":
                return await self.sse.open_stream(receive, send, caller)
            if scope["path"] == MESSAGES_PATH and method == "POST":
                return await self.sse.post_message(scope, receive, send, caller)
            return await wire.send_bytes(send, 405, b"", [(b"allow", b"GET" if scope["path"] == SSE_PATH else b"POST")])
        if endpoint and not self._may_see_endpoint(caller, endpoint):
            return await wire.send_bytes(send, 404, b'{"error":"no such tool"}')
        if method == "POST":
            return await self.post(scope, receive, send, headers, caller, endpoint)
        if method == "GET":
            return await self.server_stream(receive, send, headers, caller, endpoint)
        if method == "DELETE":
            return await self.end_session(send, headers, caller)
        await wire.send_bytes(send, 405, b"", [(b"allow", b"GET, POST, DELETE")])

    def _may_see_endpoint(self, caller, tool_name: str) -> bool:
        """A tool's own endpoint: hidden from a caller who may not see that tool (its running row
        decides; a tool not running serves an empty list to everyone). A virtual server: 404 unless defined."""
        server_name = virtual.server_name_of(tool_name)
        if server_name is not None:
            return server_name in self.services.catalog.virtual_servers
        backend = next((b for b in self.services.catalog.backends if b.name == tool_name), None)
        return backend is None or policy.may_see_tool(caller, backend.id)

    async def post(self, scope, receive, send, headers: dict, caller, endpoint: str) -> None:
        body = await wire.read_body(receive)
        if body is None:
            return await wire.send_json(send, 413, wire.RpcError(INVALID_REQUEST, "Request body too large").body(None))
        try:
            message = wire.parse_message(body)
        except wire.RpcError as error:
            return await wire.send_json(send, error.http_status or 400, error.body(error.request_id))
        if "method" not in message:  # a client's answer to a backend's question (asking.py)
            return await self.client_response(send, headers, message, caller, endpoint)
        params = message.get("params") or {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        version_header = headers.get("mcp-protocol-version")
        if version_header in MODERN_PROTOCOL_VERSIONS or (
                version_header is None and meta.get(PROTOCOL_VERSION_META_KEY) in MODERN_PROTOCOL_VERSIONS):
            return await self.modern(receive, send, headers, message, params, meta, caller, endpoint)
        return await self.handshake(receive, send, headers, message, params, caller, endpoint)

    async def modern(self, receive, send, headers, message, params, meta, caller, endpoint) -> None:
        """A 2026-07-28 request: nothing outlives it here."""
        if "id" not in message:
            return await wire.send_bytes(send, 202, b"")  # this revision defines no client notifications on HTTP
        if not self.heartbeat.serving:
            return await refuse_while_stopped(send, message["id"])
        verdict = classify_inbound_request(message, headers=headers)
        if isinstance(verdict, InboundLadderRejection):
            error = wire.RpcError(verdict.code, verdict.message, verdict.data)
            return await wire.send_json(send, ERROR_CODE_HTTP_STATUS.get(verdict.code, 400), error.body(message["id"]))
        if message["method"] == "subscriptions/listen":
            return await self.listen(receive, send, message, params, caller, endpoint)
        request = Request(caller=caller, version=verdict.protocol_version, endpoint=endpoint,
                          view=self.services.catalog.view(caller.tool_scope, endpoint or None),
                          request_id=message["id"], params=params, log_level=meta.get(LOG_LEVEL_META_KEY))
        await self.answer(receive, send, headers, message, request, http_errors=True)

    async def handshake(self, receive, send, headers, message, params, caller, endpoint) -> None:
        """A handshake-era message: `initialize` opens a session, everything else names one."""
        method = message["method"]
        sessions = self.services.sessions
        view = self.services.catalog.view(caller.tool_scope, endpoint or None)
        if method == "initialize":
            if "id" not in message:
                return await wire.send_json(send, 400, wire.RpcError(INVALID_REQUEST, "initialize needs an id").body(None))
            if not self.heartbeat.serving:
                return await refuse_while_stopped(send, message["id"])
            result = self.methods.initialize_result(view, endpoint, params.get("protocolVersion"))
            session = await sessions.create(result["protocolVersion"], caller.principal, endpoint,
                                            _dict(params.get("capabilities")), _dict(params.get("clientInfo")),
                                            caller.user_id, caller.api_key_id, "streamable_http")
            log.info("event=proxy.session_opened session=%s version=%s who=%s endpoint=%s", session.id,
                     session.protocol_version, caller.principal, endpoint or "/mcp")
            return await wire.send_json(send, 200, wire.response(message["id"], result),
                                        [(SESSION_HEADER, session.id.encode())])
        session_id = headers.get("mcp-session-id")
        if not session_id:
            error = wire.RpcError(INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required "
                                                   "(initialize first, or send a 2026-07-28 request)")
            return await wire.send_json(send, 400, error.body(message.get("id")))
        session = await sessions.get(session_id)
        if session is None or session.principal != caller.principal or session.endpoint != endpoint:
            error = wire.RpcError(INVALID_REQUEST, "Session not found")
            return await wire.send_json(send, 404, error.body(message.get("id")))
        if "id" not in message:
            if method == "notifications/cancelled":
                await self.cancel_request(session.id, params.get("requestId"))
            return await wire.send_bytes(send, 202, b"")
        request = Request(caller=caller, version=session.protocol_version, endpoint=endpoint, view=view,
                          request_id=message["id"], params=params, session=session)
        await self.answer(receive, send, headers, message, request, http_errors=False)

    async def answer(self, receive, send, headers, message, request: Request, http_errors: bool) -> None:
        """Serve the request and write its answer: JSON, or SSE once a notification has to go first."""
        stream = _ResponseStream(send, accepts_sse="text/event-stream" in headers.get("accept", ""))
        if stream.accepts_sse:
            request.emit = stream.notify
        request.disconnected = lambda: _disconnect(receive)
        method = message["method"]
        try:
            result = await self.methods.handle(method, request)
            reply = wire.response(request.request_id, eras.for_client(method, request.version, result))
            status = 200
        except wire.RpcError as error:
            reply = error.body(request.request_id)
            status = ERROR_CODE_HTTP_STATUS.get(error.code, 200) if http_errors else 200
        except Exception:
            log.exception("event=proxy.request_failed method=%s", method)
            reply = wire.RpcError(INTERNAL_ERROR, "Internal error").body(request.request_id)
            status = 200
        await stream.finish(reply, status)

    async def client_response(self, send, headers, message: dict, caller, endpoint: str) -> None:
        """A handshake-era client's response to a question sent on one of its session's streams: to the job
        that asked it, through any proxy process. 202 when delivered, 404 for a question this session was
        not asked (or was asked and has answered already, or that timed out)."""
        session_id = headers.get("mcp-session-id")
        session = await self.services.sessions.get(session_id) if session_id else None
        if session is None or session.principal != caller.principal or session.endpoint != endpoint:
            return await wire.send_bytes(send, 404 if session_id else 400, b"")
        if not await self.methods.questions.deliver_response(session, message):
            log.info("event=proxy.response_refused session=%s id=%r", session.id, message.get("id"))
            return await wire.send_bytes(send, 404, b"")
        await wire.send_bytes(send, 202, b"")

    async def cancel_request(self, session_id: str, request_id: Any) -> None:
        if not wire.valid_id(request_id):
            return
        job_id = await self.services.sessions.job_for(session_id, request_id)
        if job_id:
            await self.services.jobs.cancel(job_id)
            log.info("event=proxy.cancelled reason=notification session=%s job=%s", session_id, job_id)

    async def end_session(self, send, headers, caller) -> None:
        session_id = headers.get("mcp-session-id")
        session = await self.services.sessions.get(session_id) if session_id else None
        if session is None or session.principal != caller.principal:
            return await wire.send_bytes(send, 404, b"")
        subscribed = await self.services.sessions.subscriptions(session_id)
        await self.services.sessions.delete(session_id)
        if subscribed:
            view = self.services.catalog.view(caller.tool_scope, session.endpoint or None)
            await self.methods.forget_subscriptions(caller, view, session_id, subscribed)
        log.info("event=proxy.session_closed session=%s", session_id)
        await wire.send_bytes(send, 200, b"")

    # -- server streams ---------------------------------------------------------------------------

    async def server_stream(self, receive, send, headers, caller, endpoint: str) -> None:
        """GET: a handshake-era session's stream of notifications not tied to a request."""
        session_id = headers.get("mcp-session-id")
        session = await self.services.sessions.get(session_id) if session_id else None
        if session is None or session.principal != caller.principal:
            return await wire.send_bytes(send, 404 if session_id else 400, b"")
        kinds = {"tools", "resources", "prompts"}
        sessions = self.services.sessions
        await self._notification_stream(receive, send, kinds, first=None, endpoint=endpoint, caller=caller,
                                        resource_uris=lambda: sessions.subscriptions(session.id))

    async def listen(self, receive, send, message, params, caller, endpoint: str) -> None:
        """2026 `subscriptions/listen`: the list changes the client asked for, until it goes away."""
        wanted = _dict(params.get("notifications"))
        honoured = {name: True for name in ("toolsListChanged", "promptsListChanged", "resourcesListChanged")
                    if wanted.get(name)}
        kinds = {name[:-len("ListChanged")] for name in honoured}
        subscriber = f"listen:{uuid.uuid4().hex}"
        view = self.services.catalog.view(caller.tool_scope, endpoint or None)
        uris = await self._subscribe_listened(caller, view, wanted.get("resourceSubscriptions"), subscriber)
        if uris:
            honoured["resourceSubscriptions"] = uris
        first = wire.notification("notifications/subscriptions/acknowledged", {
            "notifications": honoured, "_meta": {SUBSCRIPTION_ID_META_KEY: message["id"]}})
        meta = _dict(params.get("_meta"))
        tell = functools.partial(tell_listening, self.redis, self.settings, listen_id=subscriber, caller=caller,
                                 protocol_version=meta.get(PROTOCOL_VERSION_META_KEY) or "2026-07-28",
                                 endpoint=endpoint, client_info=_dict(meta.get(CLIENT_INFO_META_KEY)))
        await tell("opened")
        try:
            await self._notification_stream(receive, send, kinds, first=first, endpoint=endpoint, caller=caller,
                                             subscription_id=message["id"], resource_uris=_constant(set(uris)))
        finally:
            asyncio.get_running_loop().create_task(tell("closed"))
            if uris:  # not awaited by anyone: the client is gone
                asyncio.get_running_loop().create_task(
                    self.methods.forget_subscriptions(caller, view, subscriber, uris))

    async def _subscribe_listened(self, caller, view, requested, subscriber: str) -> list[str]:
        """The resource URIs of a listen request this caller may subscribe to and the proxy can route,
        each counted on its backend's worker before the stream is acknowledged (no update after the
        acknowledgement is missed)."""
        if not isinstance(requested, list) or not policy.may(caller, "resources/subscribe"):
            return []
        uris = [uri for uri in dict.fromkeys(requested) if isinstance(uri, str) and view.route_resource(uri)]
        results = await asyncio.gather(*(self.methods.resource_subscription(
            caller, view.route_resource(uri), subscriber, subscribe=True) for uri in uris), return_exceptions=True)
        return [uri for uri, result in zip(uris, results) if not isinstance(result, BaseException)]

    async def _notification_stream(self, receive, send, kinds: set[str], first: dict | None, endpoint: str,
                                   caller, subscription_id=None, resource_uris=None) -> None:
        """`resource_uris()`: the URIs (as this client names them) whose updates this stream delivers."""
        queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=100)
        catalog = self.services.catalog
        last_view = {"v": catalog.view(caller.tool_scope, endpoint or None)}
        stamp = {"_meta": {SUBSCRIPTION_ID_META_KEY: subscription_id}} if subscription_id is not None else {}

        async def on_resource_updated(tool_id: int, uri: str) -> None:
            view = catalog.view(caller.tool_scope, endpoint or None)
            for client_uri in sorted(await resource_uris()):
                route = view.route_resource(client_uri)
                if route is not None and route[0].id == tool_id and route[1] == uri and not queue.full():
                    queue.put_nowait(wire.notification("notifications/resources/updated", {"uri": client_uri, **stamp}))

        async def on_change(changed: set[str]) -> None:
            view = catalog.view(caller.tool_scope, endpoint or None)
            before, last_view["v"] = last_view["v"], view
            for kind in sorted(changed & kinds):
                if getattr(before, kind) != getattr(view, kind):  # a change this caller can see
                    params = {"_meta": {"io.modelcontextprotocol/subscriptionId": subscription_id}} \
                        if subscription_id is not None else None
                    if not queue.full():
                        queue.put_nowait(wire.notification(f"notifications/{kind}/list_changed", params))

        unlisten = catalog.listen(on_change)
        unlisten_resources = self.notices.on_resource_updated(on_resource_updated) if resource_uris else None
        await send({"type": "http.response.start", "status": 200, "headers": wire.SSE_HEADERS})
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            if first is not None:
                await send({"type": "http.response.body", "body": wire.sse_event(first), "more_body": True})
            await wire.pump_sse(send, queue, gone, KEEPALIVE_S)
        except OSError:
            pass
        finally:
            unlisten()
            if unlisten_resources is not None:
                unlisten_resources()
            gone.cancel()
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, RuntimeError):
            pass


class _ResponseStream:
    """One POST's answer: JSON unless a notification must go out first, then SSE from there on."""

    def __init__(self, send, accepts_sse: bool):
        self.send = send
        self.accepts_sse = accepts_sse
        self.streaming = False

    async def notify(self, message: dict) -> None:
        if not self.streaming:
            self.streaming = True
            await self.send({"type": "http.response.start", "status": 200, "headers": wire.SSE_HEADERS})
        await self.send({"type": "http.response.body", "body": wire.sse_event({"jsonrpc": "2.0", **message}),
                         "more_body": True})

    async def finish(self, reply: dict, status: int) -> None:
        if self.streaming:
            await self.send({"type": "http.response.body", "body": wire.sse_event(reply), "more_body": False})
        else:
            await wire.send_json(self.send, status, reply)


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _endpoint(path: str) -> str | None:
    """"" for /mcp, the tool's name for /mcp/tools/<tool>, "@<name>" for /mcp/servers/<name>, None for
    anything else."""
    path = path.rstrip("/")
    if path == "/mcp":
        return ""
    if path.startswith("/mcp/servers/"):
        name = path[len("/mcp/servers/"):]
        return virtual.endpoint_of(name) if name and "/" not in name else None
    if path.startswith("/mcp/tools/"):
        name = path[len("/mcp/tools/"):]
        return name if name and "/" not in name else None
    return None


def _constant(value):
    async def get():
        return value
    return get


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def create_app(settings: Section, address: str = "") -> ProxyApp:
    return ProxyApp(settings, address)
