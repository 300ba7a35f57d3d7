"""Which server log messages a backend sends, when several clients with their own log levels share it.

A client's level travels with each of its jobs (args["log_level"]: the handshake session's
`logging/setLevel`, or a 2026 request's `_meta` level), because the proxy holds no state worth sharing
across processes and a level only matters while one of that client's requests runs: the server log
messages a client can receive are those of its own calls (the rest go to the tool's log only).

- 2026-era servers take the level per request (`io.modelcontextprotocol/logLevel` in `_meta`): each
  request carries the more verbose of its caller's level and `mcp.tools.log_level` (the tool log's).
- Handshake-era servers have one level per connection (`logging/setLevel`), shared by every client: it is
  set to `mcp.tools.log_level` on connect, lowered before a request whose caller wants more (awaited, so
  the request's own messages are not lost) and put back, not awaited, once no request in flight wants it.
  The worker then passes a message to a job only at or above that job's own level.
"""
from __future__ import annotations

import asyncio
import logging

from mcp_types import LOG_LEVEL_META_KEY
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

log = logging.getLogger("mcps.tool")
# The levels of notifications/message, least to most severe (RFC 5424 as MCP uses them).
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def valid(level) -> str | None:
    return level if level in LEVELS else None


def rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else LEVELS.index("info")


def at_least(level: str, threshold: str | None) -> bool:
    """Does a message at `level` pass a job's `threshold` (None: every message the job hears passes)."""
    return threshold is None or rank(level) >= rank(threshold)


def most_verbose(*levels: str | None) -> str | None:
    present = [level for level in levels if level in LEVELS]
    return min(present, key=rank) if present else None


class BackendLogLevel:
    """The log level of one backend connection (see the module's docstring)."""

    def __init__(self, session):
        self.session = session  # the ToolSession: its settings, requests in flight, client
        self.configured = valid(session.settings.mcp.tools.log_level)
        self.current: str | None = None  # as last set on a handshake-era connection
        self._lock = asyncio.Lock()

    async def connected(self, client) -> None:
        self.current = None
        if _settable(client) and self.configured is not None:
            try:
                await self._set(client, self.configured)
            except Exception as exc:  # a server that offers logging but refuses a level still serves calls
                self.session.log_line("WARNING", "lifecycle", f"logging/setLevel {self.configured} failed: {exc}")

    async def before_request(self, client, wanted: str | None) -> dict | None:
        """The request's `_meta` (2026) or None, after making a handshake-era server verbose enough."""
        if client.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
            # The client stamps the configured level on every request already; only more is worth a _meta.
            return {LOG_LEVEL_META_KEY: wanted} if wanted is not None and rank(wanted) < rank(self.configured) else None
        if wanted is not None and _settable(client) and rank(wanted) < rank(self.current):
            async with self._lock:
                if rank(wanted) < rank(self.current):
                    await self._set(client, self.needed(wanted))
        return None

    def after_request(self, client) -> None:
        """Back to what the requests still in flight need, without delaying this one's answer."""
        if not _settable(client) or self.session.client is not client:
            return
        if rank(self.needed()) > rank(self.current):
            asyncio.get_running_loop().create_task(self._relax(client))

    def needed(self, *extra: str | None) -> str | None:
        return most_verbose(self.configured, *self.session.wanted_log_levels(), *extra)

    async def _relax(self, client) -> None:
        async with self._lock:
            level = self.needed()
            if level is not None and rank(level) > rank(self.current) and self.session.client is client:
                try:
                    await self._set(client, level)
                except Exception as exc:  # the connection went; the next one starts at the configured level
                    log.debug("event=tool.log_level_failed tool=%s error=%r", self.session.tool_id, exc)

    async def _set(self, client, level: str) -> None:
        await client.session.set_logging_level(level)
        self.current = level


def _settable(client) -> bool:
    caps = client.server_capabilities
    return client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS and caps is not None and caps.logging is not None
