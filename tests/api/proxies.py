"""Helpers of the tests that drive real MCP front door processes (`python -m api.mcp_proxy`); their
fixtures (`start_proxy`, `api_key`, `make_api_key`, `serve_tool`) are in tests/api/conftest.py."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.harness import ROOT, free_port, settings_environ

MODERN, LEGACY = "2026-07-28", "2025-11-25"
EVERYTHING = ROOT / ".cache" / "npm" / "node_modules" / ".bin" / "mcp-server-everything"


class ProxyProcess:
    def __init__(self, settings, extra_env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/mcp"
        self.process = subprocess.Popen([sys.executable, "-m", "api.mcp_proxy", "--port", str(self.port)],
                                        cwd=ROOT, env={**settings_environ(settings), **(extra_env or {})})
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the proxy did not come up")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@asynccontextmanager
async def connect(url: str, key: str, mode: str = "auto", **options):
    """An SDK client over streamable HTTP (`auto`: 2026-07-28, `legacy`: the handshake)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=None))
    async with http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, **options) as client:
            yield client


@asynccontextmanager
async def connect_sse(url: str, key: str):
    """An SDK client over the legacy HTTP+SSE transport (`mcp.client.sse`)."""
    async with Client(sse_client(url, headers={"X-API-Key": key}, sse_read_timeout=30), mode="legacy") as client:
        yield client


def post(url: str, key: str | None, body, **headers) -> httpx2.Response:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx2.post(url, content=content, headers={"Content-Type": "application/json",
                                                      "Accept": "application/json, text/event-stream",
                                                      **auth, **headers}, timeout=10)


def initialize(url: str, key: str) -> str:
    response = post(url, key, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["protocolVersion"] == LEGACY
    return response.headers["mcp-session-id"]
