"""Transports for one tool's MCP client: stdio (guarded child, stderr captured), streamable HTTP, SSE.

Each is wrapped so the session learns at once when the connection ends (child exited, HTTP stream
dropped): the wrapped read stream sets `lost` when it reaches its end.
"""
from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable

import anyio
import httpx2
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from workers.run_as import RunAs

CHILD_GUARD = str(Path(__file__).with_name("child_guard.py"))


class WatchedReadStream:
    """Delegates to the transport's read stream; calls `on_end` when the stream ends."""

    def __init__(self, inner, on_end: Callable[[], None]):
        self._inner = inner
        self._on_end = on_end

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def receive(self):
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise StopAsyncIteration from None

    async def aclose(self):
        await self._inner.aclose()

    async def __aenter__(self):
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc):
        return await self._inner.__aexit__(*exc)


class LineBudget:
    """How many of a tool's stderr lines reach its log: at most `lines` per `window_s`. A server flooding
    its stderr had every line become a log row (tens of thousands a second), which starved the worker's
    bookkeeping (task rows, call history) and grew the log without bound. Lines beyond the budget are
    counted, and the count is logged when the next window opens (or when the stream ends)."""

    def __init__(self, lines: int, window_s: float = 60.0):
        self.lines = lines
        self.window_s = window_s
        self._window_ends = 0.0
        self._used = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def admit(self) -> tuple[bool, int]:
        """(whether this line is logged, how many lines went unlogged in the window that just ended)."""
        with self._lock:
            now = time.monotonic()
            dropped = 0
            if now >= self._window_ends:
                self._window_ends = now + self.window_s
                self._used, dropped, self._dropped = 0, self._dropped, 0
            if self._used < self.lines:
                self._used += 1
                return True, dropped
            self._dropped += 1
            return False, dropped

    def take_dropped(self) -> int:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            return dropped

    def describe(self, dropped: int) -> str:
        return f"{dropped} stderr lines not logged (more than {self.lines} in {self.window_s:g} s)"


class StderrCapture:
    """A pipe for a child's stderr, read by a thread: keeps the last lines and hands each to `on_line`,
    within `budget`."""

    def __init__(self, on_line: Callable[[str], None], keep: int = 200, budget: LineBudget | None = None):
        self.tail: deque[str] = deque(maxlen=keep)
        self._on_line = on_line
        self._budget = budget or LineBudget(keep)
        read_fd, write_fd = os.pipe()
        self.writer = os.fdopen(write_fd, "w")
        self._reader = os.fdopen(read_fd, "r", errors="replace")
        self._thread = threading.Thread(target=self._pump, name="stderr", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        budget = self._budget
        with self._reader:
            for line in self._reader:
                line = line.rstrip("\n")
                self.tail.append(line)
                logged, dropped = budget.admit()
                if dropped:
                    self._on_line(budget.describe(dropped))
                if logged:
                    self._on_line(line)
        if dropped := budget.take_dropped():
            self._on_line(budget.describe(dropped))

    def close_writer(self) -> None:
        """Drop our copy of the write end once the child has its own (EOF then means the child is gone)."""
        if not self.writer.closed:
            self.writer.close()

    def text(self, lines: int = 20) -> str:
        return "\n".join(list(self.tail)[-lines:])


@asynccontextmanager
async def watched(transport, on_end: Callable[[], None]):
    async with transport as (read_stream, write_stream):
        yield WatchedReadStream(read_stream, on_end), write_stream


def stdio_transport(tool: dict, pidfile: Path, stderr: StderrCapture, run_as: RunAs | None = None):
    env = {str(k): str(v) for k, v in (tool.get("env") or {}).items()}
    guard = [CHILD_GUARD, *(run_as.guard_args() if run_as else []), str(pidfile)]
    params = StdioServerParameters(
        command=sys.executable, args=[*guard, tool["command"], *tool.get("args", [])],
        env=run_as.environment(env) if run_as else env, cwd=tool.get("cwd") or None)
    return stdio_client(params, errlog=stderr.writer)


def http_transport(tool: dict, timeout_s: float):
    headers = {str(k): str(v) for k, v in (tool.get("headers") or {}).items()}
    if tool["transport"] == "sse":
        # No read timeout on the event stream (as for streamable HTTP): the SDK's default drops a quiet
        # stream after 300 s, which would count as the connection lost; the health probe judges liveness.
        return sse_client(tool["url"], headers=headers, timeout=timeout_s, sse_read_timeout=None)
    client = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout_s, read=None))
    return _owning(streamable_http_client(tool["url"], http_client=client), client)


@asynccontextmanager
async def _owning(transport, http_client):
    async with http_client:
        async with transport as streams:
            yield streams


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return None


async def wait_for_pid(pidfile: Path, timeout_s: float = 2.0) -> int | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        pid = read_pid(pidfile)
        if pid:
            return pid
        await asyncio.sleep(0.005)
    return None
