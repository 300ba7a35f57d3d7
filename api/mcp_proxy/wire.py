"""JSON-RPC on the wire of streamable HTTP: reading one message, writing a JSON or SSE answer.

Written here rather than taken from the SDK's transports: `StreamableHTTPServerTransport` keeps a
handshake-era session as an in-memory task and stream pair of one process (our sessions live in Redis,
any process serves them), and its per-request machinery (anyio streams, a task group, the model
validation of every envelope) costs more than our whole overhead budget. Envelope checks are plain dict
checks; the SDK's pure pieces are reused where they fit (`mcp.shared.inbound` for the 2026 ladder,
`mcp_types.methods` for per-version params and results).
"""
from __future__ import annotations

import asyncio

import json
from typing import Any

from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_STRING_ID = 256
# JSON-RPC ids are echoed to clients in every language: an integer id must survive a JavaScript number.
MAX_INT_ID = 2 ** 53 - 1

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache, no-transform"),
               (b"connection", b"keep-alive"), (b"x-accel-buffering", b"no")]


class RpcError(Exception):
    """A JSON-RPC error answer for the request being served."""

    def __init__(self, code: int, message: str, data: Any = None, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.http_status = http_status
        self.request_id = None  # set when the error was found before the request could be served

    def body(self, request_id) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "id": request_id, "error": error}


def method_not_found(method: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def internal_error(message: str = "Internal error") -> RpcError:
    return RpcError(INTERNAL_ERROR, message)


def parse_message(body: bytes) -> dict:
    """One JSON-RPC request, notification or response, as a dict with a checked envelope.

    Raises RpcError (with `id` on the error set to the request id when it could be read) for anything
    else: not JSON, a batch (no MCP revision since 2025-06-18 has them), a wrong type anywhere in the
    envelope, an id that is not a short string or a safe integer."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):  # huge integer literals raise a bare ValueError, deep nesting RecursionError
        raise RpcError(PARSE_ERROR, "Parse error", http_status=400) from None
    if isinstance(decoded, list):
        raise RpcError(INVALID_REQUEST, "Batches are not supported: send one JSON-RPC message per request",
                       http_status=400)
    if not isinstance(decoded, dict) or decoded.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "Body must be one JSON-RPC 2.0 message object", http_status=400)
    if "id" in decoded and not valid_id(decoded["id"]):
        raise RpcError(INVALID_REQUEST, "id must be a string of at most 256 characters or a safe integer",
                       http_status=400)
    method = decoded.get("method")
    if method is None:
        if "id" in decoded and ("result" in decoded or "error" in decoded):
            return decoded  # a response to a server->client request
        raise RpcError(INVALID_REQUEST, "method is required", http_status=400)
    if not isinstance(method, str):
        raise _with_id(RpcError(INVALID_REQUEST, "method must be a string", http_status=400), decoded)
    params = decoded.get("params")
    if params is not None and not isinstance(params, dict):
        raise _with_id(RpcError(INVALID_PARAMS, "params must be an object", http_status=400), decoded)
    return decoded


def _with_id(error: RpcError, decoded: dict) -> RpcError:
    error.request_id = decoded.get("id")
    return error


def valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -MAX_INT_ID <= value <= MAX_INT_ID
    return isinstance(value, str) and len(value) <= MAX_STRING_ID


def dumps(message: dict) -> bytes:
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate (an id "\ud800" echoed back) has no UTF-8: send it escaped
        return json.dumps(message, separators=(",", ":")).encode()


def response(request_id, result: dict) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def notification(method: str, params: dict | None) -> dict:
    message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def sse_event(message: dict) -> bytes:
    return b"event: message\r\ndata: " + dumps(message) + b"\r\n\r\n"


SSE_PING = b": ping\r\n\r\n"


async def read_body(receive, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or None when it is larger than `limit`."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def send_bytes(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*(headers or JSON_HEADERS), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def send_json(send, status: int, message: dict, extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send_bytes(send, status, dumps(message), [*JSON_HEADERS, *extra_headers])


def header(scope, name: bytes) -> str | None:
    """A request header's value (the first one), by lowercase name."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def pump_sse(send, queue: "asyncio.Queue[dict]", gone: "asyncio.Future", keepalive_s: float,
                   on_idle=None) -> None:
    """Send each message put on `queue` as an SSE event until the client is `gone`; a ping (and
    `on_idle()`, awaited) after every `keepalive_s` of quiet."""
    while not gone.done():
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait((getter, gone), timeout=keepalive_s, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            body = sse_event(getter.result())
        else:
            getter.cancel()
            body = SSE_PING
            if on_idle is not None:
                await on_idle()
        if gone.done():
            break
        await send({"type": "http.response.body", "body": body, "more_body": True})
