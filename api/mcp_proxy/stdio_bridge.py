"""`python -m api.mcp_proxy --stdio --url http://host:8001/mcp`: a client that launches a command (Cursor,
Claude Desktop) talks to a front door on another machine with nothing but HTTP in between.

Each JSON-RPC line on stdin is POSTed as it is; each answer (JSON, or every event of an SSE answer) goes
to stdout as one line. The era is the client's: a handshake-era client's `initialize` opens a session
whose id the bridge then sends with every request (and whose server stream it follows, for list
changes); a 2026-era client's requests carry their envelope in `_meta`, from which the bridge sets the
routing headers the HTTP transport wants. The API key comes from MCPS_API_KEY.
"""
from __future__ import annotations

import asyncio
import json
import sys

import httpx2
from mcp.shared.inbound import NAME_BEARING_METHODS, encode_header_value
from mcp_types import PROTOCOL_VERSION_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS


class Bridge:
    def __init__(self, url: str, api_key: str | None):
        self.url = url
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=None))
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._out = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        async with self.http:
            while line := await reader.readline():
                if line.strip():
                    task = loop.create_task(self.forward(line))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=5)
            if self.session_id:
                await self.http.delete(self.url, headers=self._session_headers())
        return 0

    async def forward(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return await self.write({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
        request_id = message.get("id") if isinstance(message, dict) else None
        try:
            async with self.http.stream("POST", self.url, content=line, headers=self._headers(message)) as response:
                if response.status_code == 202:
                    return
                if response.headers.get("content-type", "").startswith("text/event-stream"):
                    async for data in _sse_data(response):
                        await self.write_raw(data)
                    return
                body = await response.aread()
            if body:
                answer = json.loads(body)
                if isinstance(message, dict) and message.get("method") == "initialize" and "result" in answer:
                    self._opened(response, answer["result"])
                await self.write(answer)
        except httpx2.HTTPError as error:
            if request_id is not None:
                await self.write({"jsonrpc": "2.0", "id": request_id,
                                  "error": {"code": -32000, "message": f"the front door is unreachable: {error}"}})

    def _opened(self, response, result: dict) -> None:
        self.session_id = response.headers.get("mcp-session-id")
        self.protocol_version = result.get("protocolVersion")
        if self.session_id:
            task = asyncio.get_running_loop().create_task(self.follow_server_stream())
            self._tasks.add(task)

    async def follow_server_stream(self) -> None:
        """The session's GET stream (list changes), reopened when it drops."""
        while self.session_id:
            try:
                async with self.http.stream("GET", self.url, headers=self._session_headers()) as response:
                    if response.status_code != 200:
                        return
                    async for data in _sse_data(response):
                        await self.write_raw(data)
            except httpx2.HTTPError:
                await asyncio.sleep(1)

    def _headers(self, message) -> dict:
        if not isinstance(message, dict):
            return {}
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        version = meta.get(PROTOCOL_VERSION_META_KEY)
        if version in MODERN_PROTOCOL_VERSIONS:  # a 2026 request: the routing headers of its envelope
            headers = {"MCP-Protocol-Version": version, "Mcp-Method": str(message.get("method"))}
            name = params.get(NAME_BEARING_METHODS.get(message.get("method"), ""))
            if isinstance(name, str):
                headers["Mcp-Name"] = encode_header_value(name)
            return headers
        return self._session_headers()

    def _session_headers(self) -> dict:
        headers = {}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    async def write(self, message: dict) -> None:
        await self.write_raw(json.dumps(message, separators=(",", ":")))

    async def write_raw(self, data: str) -> None:
        async with self._out:
            sys.stdout.write(data + "\n")
            sys.stdout.flush()


async def _sse_data(response):
    """The `data` of each SSE event (comments and pings skipped)."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line.strip() and data:
            yield "\n".join(data)
            data = []


def run_bridge(url: str, api_key: str | None) -> int:
    if not api_key:
        print("MCPS_API_KEY is not set: the front door will refuse the bridge (401)", file=sys.stderr)
    return asyncio.run(Bridge(url, api_key).run())
