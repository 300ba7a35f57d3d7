"""The legacy HTTP+SSE transport (protocol 2024-11-05, still all some clients speak): GET /sse opens the
client's event stream and announces, as its first `endpoint` event, where to POST messages
(`/messages?session_id=<id>`); every answer and notification then travels down that one stream.

Any proxy process may receive the POST while another holds the stream, so the stream is a Redis hash
`<ns>:mcp:sse:<id>` (who owns it, which process holds it, the handshake session opened by its
`initialize`), and answers go to the holding process over its pub/sub inbox (control.inbox_channel):
straight into the stream's queue when the POST landed on the holder itself. The POST is answered 202 at
once and served in a task, as the SDK's own SSE server does: its answer is on the stream, not the POST.

Requests are served exactly as on streamable HTTP (the same Methods, the same handshake sessions in
Redis), only written to the stream. While the front door is stopped no new stream opens; open ones
keep working until their clients leave.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from urllib.parse import parse_qs

from mcp_types import INTERNAL_ERROR, INVALID_REQUEST

from api.mcp_proxy import control, eras, wire
from api.mcp_proxy.heartbeat import refuse_while_stopped
from api.mcp_proxy.methods import Request
from jobs.keys import key

log = logging.getLogger("mcps.proxy")
SSE_PATH = "/sse"
MESSAGES_PATH = "/messages"
KEEPALIVE_S = 15.0
STREAM_TTL_S = 60  # a stream's hash outlives a dead holder by at most this; the holder renews it
QUEUE_MAX = 1000


class SseTransport:
    def __init__(self, app, process_id: str):
        self.app = app
        self.settings = app.settings
        self.process_id = process_id
        self.inbox = control.inbox_channel(self.settings, process_id)
        self.streams: dict[str, asyncio.Queue] = {}
        self._tasks: set[asyncio.Task] = set()

    def _key(self, stream_id: str) -> str:
        return key(self.settings, "mcp", "sse", stream_id)

    @property
    def redis(self):
        return self.app.redis

    # -- GET /sse ---------------------------------------------------------------------------------

    async def open_stream(self, receive, send, caller) -> None:
        if not self.app.heartbeat.serving:
            return await refuse_while_stopped(send, None)
        stream_id = secrets.token_hex(16)
        name = self._key(stream_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(name, mapping={"principal": caller.principal, "holder": self.process_id, "session": ""})
        pipe.expire(name, STREAM_TTL_S)
        await pipe.execute()
        queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=QUEUE_MAX)
        self.streams[stream_id] = queue
        unlisten = self._listen_for_list_changes(queue, caller)
        log.info("event=proxy.sse_opened stream=%s who=%s", stream_id, caller.principal)
        await send({"type": "http.response.start", "status": 200, "headers": wire.SSE_HEADERS})
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            endpoint = f"{MESSAGES_PATH}?session_id={stream_id}".encode()
            await send({"type": "http.response.body", "body": b"event: endpoint\r\ndata: " + endpoint + b"\r\n\r\n",
                        "more_body": True})
            await wire.pump_sse(send, queue, gone, KEEPALIVE_S,
                                on_idle=lambda: self.redis.expire(name, STREAM_TTL_S))
        except OSError:
            pass
        finally:
            unlisten()
            gone.cancel()
            self.streams.pop(stream_id, None)
            await self._close(stream_id)
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, RuntimeError):
            pass

    async def _close(self, stream_id: str) -> None:
        """The client left: its stream and the handshake session it opened end with it."""
        name = self._key(stream_id)
        session_id = await self.redis.hget(name, "session")
        await self.redis.delete(name)
        if session_id:
            await self.app.services.sessions.delete(session_id.decode())
        log.info("event=proxy.sse_closed stream=%s", stream_id)

    def _listen_for_list_changes(self, queue: asyncio.Queue, caller):
        catalog = self.app.services.catalog
        last_view = {"v": catalog.view(caller.tool_scope, None)}

        async def on_change(changed: set[str]) -> None:
            view = catalog.view(caller.tool_scope, None)
            before, last_view["v"] = last_view["v"], view
            for kind in sorted(changed & {"tools", "resources", "prompts"}):
                if getattr(before, kind) != getattr(view, kind) and not queue.full():
                    queue.put_nowait(wire.notification(f"notifications/{kind}/list_changed", None))
        return catalog.listen(on_change)

    # -- POST /messages?session_id= ---------------------------------------------------------------

    async def post_message(self, scope, receive, send, caller) -> None:
        stream_id = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_id") or [""])[0]
        if not stream_id:
            return await wire.send_json(send, 400, wire.RpcError(INVALID_REQUEST, "session_id is required").body(None))
        stream = await self.redis.hgetall(self._key(stream_id)) if len(stream_id) <= 64 else {}
        if not stream or stream[b"principal"].decode() != caller.principal:
            return await wire.send_json(send, 404, wire.RpcError(INVALID_REQUEST, "Session not found").body(None))
        body = await wire.read_body(receive)
        if body is None:
            return await wire.send_json(send, 413, wire.RpcError(INVALID_REQUEST, "Request body too large").body(None))
        try:
            message = wire.parse_message(body)
        except wire.RpcError as error:
            return await wire.send_json(send, error.http_status or 400, error.body(error.request_id))
        holder = stream[b"holder"].decode()
        session_id = stream[b"session"].decode() or None
        task = asyncio.get_running_loop().create_task(
            self._serve(stream_id, holder, session_id, message, caller))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await wire.send_bytes(send, 202, b"Accepted", [(b"content-type", b"text/plain")])

    async def _serve(self, stream_id: str, holder: str, session_id: str | None, message: dict, caller) -> None:
        method = message.get("method")
        if method is None:
            return  # a response to a server->client request: the seam of a later phase, as on /mcp
        params = message.get("params") or {}
        app, sessions = self.app, self.app.services.sessions
        if "id" not in message:
            if method == "notifications/cancelled" and session_id:
                await app.cancel_request(session_id, params.get("requestId"))
            return
        deliver = self._deliverer(stream_id, holder)
        view = app.services.catalog.view(caller.tool_scope, None)
        if method == "initialize":
            result = app.methods.initialize_result(view, "", params.get("protocolVersion"))
            session = await sessions.create(result["protocolVersion"], caller.principal, "",
                                            _dict(params.get("capabilities")), _dict(params.get("clientInfo")),
                                            caller.user_id, caller.api_key_id, "sse")
            await self.redis.hset(self._key(stream_id), "session", session.id)
            log.info("event=proxy.session_opened session=%s version=%s who=%s endpoint=/sse", session.id,
                     session.protocol_version, caller.principal)
            return await deliver(wire.response(message["id"], result))
        session = await sessions.get(session_id) if session_id else None
        if session is None:
            error = wire.RpcError(INVALID_REQUEST, "initialize first: this stream has no session")
            return await deliver(error.body(message["id"]))
        request = Request(caller=caller, version=session.protocol_version, endpoint="", view=view,
                          request_id=message["id"], params=params, session=session,
                          emit=lambda note: deliver({"jsonrpc": "2.0", **note}))
        try:
            result = await app.methods.handle(method, request)
            reply = wire.response(request.request_id, eras.for_client(method, request.version, result))
        except wire.RpcError as error:
            reply = error.body(request.request_id)
        except Exception:
            log.exception("event=proxy.request_failed method=%s transport=sse", method)
            reply = wire.RpcError(INTERNAL_ERROR, "Internal error").body(request.request_id)
        await deliver(reply)

    def _deliverer(self, stream_id: str, holder: str):
        async def deliver(message: dict) -> None:
            if holder == self.process_id:
                return self.put(stream_id, message)
            payload = wire.dumps({"stream": stream_id, "message": message})
            if not await self.app.bus.publish(control.inbox_channel(self.settings, holder), payload):
                log.warning("event=proxy.sse_undeliverable stream=%s holder=%s", stream_id, holder)
        return deliver

    def put(self, stream_id: str, message: dict) -> None:
        queue = self.streams.get(stream_id)
        if queue is None:
            log.info("event=proxy.sse_stream_gone stream=%s", stream_id)
        elif queue.full():
            log.warning("event=proxy.sse_stream_full stream=%s", stream_id)
        else:
            queue.put_nowait(message)

    async def on_inbox(self, data: bytes) -> None:
        """An answer for a stream of this process, served by another."""
        envelope = json.loads(data)
        self.put(envelope["stream"], envelope["message"])

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}
