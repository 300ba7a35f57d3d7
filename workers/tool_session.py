"""One managed MCP server inside its owning worker: connect, serve requests, supervise, restart.

Runs on the worker's asyncio loop. `run()` is the supervision task: it opens the MCP `Client` (era
negotiated in `auto` mode: `server/discover`, falling back to `initialize`), reports RUNNING, then waits
for a stop request or for the connection to end; on a crash it restarts with exponential back-off up to
`max_restart_attempts` consecutive failures, then settles in ERROR with the stderr tail as last_error.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Awaitable, Callable

import mcp_types
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from mcp import Client
from mcp.shared.exceptions import MCPError

from config.files import ensure_private_dir
from workers.asking import Asker, CallInFlight, current_call
from workers import log_levels
from workers.log_levels import BackendLogLevel
from workers.run_as import run_as
from workers.resource_subscriptions import SUBSCRIPTION_KINDS, ResourceSubscriptions
from workers.transports import LineBudget, StderrCapture, http_transport, stdio_transport, wait_for_pid, watched

log = logging.getLogger("mcps.tool")
TRANSPORT_ERRORS_LOGGED = 20  # per connection
TRANSPORT_ERROR_CHARS = 500


class _UnparsableLinesAreToolLogs(logging.Filter):
    """The SDK logs a traceback for every line a server writes to stdout that is not JSON-RPC: a server
    flooding garbage had the worker format thousands of tracebacks a second onto its stderr. Those lines
    go, bounded, to the tool's own log instead (ToolSession._on_message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to parse JSONRPC message")


logging.getLogger("mcp.client.stdio").addFilter(_UnparsableLinesAreToolLogs())
# A server that stayed up this long is healthy again: its failure counter starts over.
STABLE_AFTER_S = 10.0
CLIENT_INFO = mcp_types.Implementation(name="mcps-platform", version="0.1.0")


class ToolNotRunning(Exception):
    pass


class ToolSession:
    def __init__(self, tool: dict, run_dir: Path, settings, report: Callable[..., None],
                 log_line: Callable[[str, str, str], None], asker: Asker | None = None,
                 on_resource_updated: Callable[[str], Awaitable[None]] | None = None,
                 subscriptions: dict[str, set[str]] | None = None,
                 save_subscriptions: Callable[[str, set[str]], Awaitable[None]] | None = None):
        self.tool = tool
        self.tool_id: int = tool["id"]
        self.settings = settings
        self.run_dir = run_dir
        self.report = report  # report(**fields): persist status fields of the tool row
        self.log_line = log_line  # log_line(level, source, message)
        self.client: Client | None = None
        self.status = "STOPPED"
        self.pid: int | None = None
        self.started_at: float | None = None
        self.restart_count = 0
        self.last_error: str | None = None
        self.info: dict = {}
        self._stop = asyncio.Event()
        self._lost = asyncio.Event()
        self._settled = asyncio.Event()  # set whenever the session reaches RUNNING, ERROR or STOPPED
        self._task: asyncio.Task | None = None
        self._stderr: StderrCapture | None = None
        # One budget for every process of this session: a server crash-looping while flooding gets no fresh one.
        self._stderr_budget = LineBudget(settings.mcp.tools.max_stderr_lines)
        self._kill_reason: str | None = None
        # Log listeners of the requests in flight: the wire does not say which request a server log
        # message belongs to, so it goes to a job's stream only while that job is the only one in flight.
        self._log_listeners: dict[int, Callable[[dict], Awaitable[None]]] = {}
        # The calls in flight that may be asked something (workers/asking.py: which job a question is for).
        self.asker = asker
        self.calls_in_flight: dict[int, CallInFlight] = {}
        # The server log level each request in flight asked for (None: whatever the tool log hears).
        self._wanted_levels: dict[int, str | None] = {}
        self._log_levels = BackendLogLevel(self)
        self.on_resource_updated = on_resource_updated
        self.subscriptions = ResourceSubscriptions(self, subscriptions, save_subscriptions)

    # -- lifecycle -------------------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._stop.clear()
            self._settled.clear()
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"tool-{self.tool_id}")

    async def wait_settled(self, timeout_s: float) -> str:
        try:
            await asyncio.wait_for(self._settled.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
        return self.status

    async def stop(self, timeout_s: float = 15) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except asyncio.TimeoutError:
                self._task.cancel()

    @property
    def done(self) -> bool:
        return self._task is None or self._task.done()

    async def run(self) -> None:
        failures = 0
        tools_cfg = self.settings.mcp.tools
        tool = self.tool
        try:
            while not self._stop.is_set():
                self._set_status("STARTING", last_error=self.last_error)
                up_since = None
                error = None
                try:
                    async with AsyncExitStack() as stack:
                        # asyncio.timeout, not wait_for: the client's task group must be entered and
                        # left in this same task.
                        async with asyncio.timeout(tools_cfg.start_timeout_s) as deadline:
                            # a stop while the server is starting ends the wait at once
                            stopper = asyncio.get_running_loop().create_task(self._expire_on_stop(deadline))
                            try:
                                await self._connect(stack)
                            finally:
                                stopper.cancel()
                        up_since = time.monotonic()
                        self._set_status("RUNNING", pid=self.pid, started_at=self.started_at,
                                         restart_count=self.restart_count, **self.info)
                        self.log_line("INFO", "lifecycle", f"started pid={self.pid} "
                                      f"protocol={self.info.get('protocol_version')}")
                        self._settled.set()
                        watchers = [self._stop.wait(), self._lost.wait(), self._listen_for_changes(),
                                    self.subscriptions.follow(self.client)]
                        if tool["transport"] != "stdio":
                            watchers.append(self._probe_forever())
                        await _first_of(*watchers)
                        self.client = None
                        if not self._stop.is_set():
                            error = self._kill_reason or "the server closed the connection (process exited)"
                except asyncio.CancelledError:
                    raise
                except asyncio.TimeoutError:
                    error = f"the server did not answer the MCP handshake within {tools_cfg.start_timeout_s:g} s"
                except BaseException as exc:  # a server's failure to start takes many shapes
                    error = _describe(exc)
                finally:
                    self.client = None
                if self._stop.is_set():
                    break
                await asyncio.sleep(0.05)  # let the stderr pipe drain the crash message
                self.last_error = self._with_stderr(error or "unknown failure")
                self.log_line("ERROR", "lifecycle", f"tool failed: {self.last_error}")
                self._kill_reason = None
                if up_since is not None and time.monotonic() - up_since >= STABLE_AFTER_S:
                    failures = 0
                failures += 1
                if not self.tool.get("restart_on_failure", True) or failures > self.tool.get(
                        "max_restart_attempts", tools_cfg.max_restart_attempts):
                    self._set_status("ERROR", pid=None, last_error=self.last_error)
                    self._settled.set()
                    return
                backoff = min(tools_cfg.restart_backoff_s * 2 ** (failures - 1), tools_cfg.restart_backoff_max_s)
                self.restart_count += 1
                self.log_line("WARNING", "lifecycle", f"restarting in {backoff:g} s (attempt {failures})")
                self._set_status("STARTING", pid=None, restart_count=self.restart_count, last_error=self.last_error)
                try:
                    await asyncio.wait_for(self._stop.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
            self._set_status("STOPPED", pid=None, started_at=None)
            self.log_line("INFO", "lifecycle", "stopped")
            self._settled.set()
        finally:
            if self._stderr is not None:
                self._stderr.close_writer()

    async def _expire_on_stop(self, deadline: asyncio.Timeout) -> None:
        await self._stop.wait()
        deadline.reschedule(asyncio.get_running_loop().time())

    async def _report_starting_pid(self, pidfile: Path) -> None:
        pid = await wait_for_pid(pidfile, self.settings.mcp.tools.start_timeout_s)
        if pid and self.status == "STARTING":
            self._set_status("STARTING", pid=pid)

    async def _connect(self, stack: AsyncExitStack) -> None:
        self._lost = asyncio.Event()
        self._transport_errors = 0
        tool = self.tool
        if tool["transport"] == "stdio":
            self.run_dir.mkdir(parents=True, exist_ok=True)
            # One file per session: a restarted tool's old session, still stopping, must not delete the
            # pidfile of its successor (whose pid would then read as None).
            pidfile = self.run_dir / f"{self.tool_id}.{id(self):x}.pid"
            pidfile.unlink(missing_ok=True)
            user = run_as(self.settings.mcp.tools.run_as_user)  # None: the worker's own user
            if not tool.get("cwd"):  # a directory of its own, not the platform's (where data/ is)
                private = ensure_private_dir(Path(self.settings.app.data_dir) / "tools" / str(self.tool_id))
                if user is not None:
                    user.own(private)
                tool = {**tool, "cwd": str(private)}
            self._stderr = StderrCapture(lambda line: self.log_line("INFO", "stderr", line),
                                         keep=self.settings.mcp.tools.max_stderr_lines, budget=self._stderr_budget)
            stack.callback(self._stderr.close_writer)
            stack.callback(pidfile.unlink, missing_ok=True)
            transport = stdio_transport(tool, pidfile, self._stderr, user)
            # The process exists before it answers `initialize`: show its pid while it is STARTING.
            reporter = asyncio.get_running_loop().create_task(self._report_starting_pid(pidfile))
            stack.callback(reporter.cancel)
        else:
            pidfile = None
            transport = http_transport(tool, self.settings.mcp.tools.start_timeout_s)
        # One set of callbacks for both eras: a 2026 server's InputRequiredResult is turned into calls of
        # them by the SDK's Client, which retries the call with the answers.
        callbacks = self.asker.callbacks(self.calls_in_flight.values, tool["name"]) if self.asker else {}
        client = Client(watched(transport, self._lost.set), client_info=CLIENT_INFO,
                        message_handler=self._on_message, logging_callback=self._on_server_log,
                        log_level=self.settings.mcp.tools.log_level, cache=None, **callbacks)
        await stack.enter_async_context(client)
        if self._stderr is not None:
            self._stderr.close_writer()
        self.pid = await wait_for_pid(pidfile) if pidfile else None
        self.started_at = time.time()
        self.client = client
        self.info = await self._describe_server(client)
        await self._log_levels.connected(client)

    async def _listen_for_changes(self) -> None:
        """2026-era servers announce list changes on a `subscriptions/listen` stream (handshake-era ones
        send notifications, see _on_message). Never returns: a server without it is simply not heard."""
        client = self.client
        caps = client.server_capabilities if client is not None else None
        if client is not None and client.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS and caps is not None:
            try:
                async with client.listen(tools_list_changed=caps.tools is not None,
                                         prompts_list_changed=caps.prompts is not None,
                                         resources_list_changed=caps.resources is not None) as subscription:
                    async for event in subscription:
                        await self._refresh_lists(f"listen: {type(event).__name__}")
            except Exception as exc:  # not offered, or the stream ended: the session goes on without it
                self.log_line("DEBUG", "lifecycle", f"no list-change subscription: {_describe(exc)}")
        await asyncio.Event().wait()

    async def _probe_forever(self) -> None:
        """An HTTP server that died is not noticed until a request fails (nothing is streaming): ask it
        something cheap every probe interval, and call the connection lost when it does not answer."""
        interval = self.settings.mcp.tools.http_probe_s
        while True:
            await asyncio.sleep(interval)
            client = self.client
            if client is None:
                return
            try:
                async with asyncio.timeout(max(interval * 2, 5)):
                    if client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
                        await client.session.send_ping()
                    else:
                        await client.list_tools()
            except Exception as exc:
                self.log_line("WARNING", "lifecycle", f"health probe failed: {_describe(exc)}")
                return  # the supervisor sees the connection as lost

    async def _describe_server(self, client: Client) -> dict:
        caps = client.server_capabilities
        info = client.server_info
        return {
            "protocol_version": client.protocol_version,
            "server_info": info.model_dump(mode="json", exclude_none=True) if info else None,
            "capabilities": caps.model_dump(mode="json", by_alias=True, exclude_none=True),
            "instructions": client.instructions,
            **await self._lists(client),
        }

    async def _lists(self, client: Client) -> dict:
        caps = client.server_capabilities
        lists: dict[str, Any] = {}
        if caps.tools is not None:
            lists["mcp_tools"] = _dump_all((await client.list_tools()).tools)
        if caps.resources is not None:
            lists["mcp_resources"] = _dump_all((await client.list_resources()).resources)
        if caps.prompts is not None:
            lists["mcp_prompts"] = _dump_all((await client.list_prompts()).prompts)
        return lists

    async def _on_message(self, message) -> None:
        method = getattr(message, "method", None) or getattr(getattr(message, "root", None), "method", None)
        if method in ("notifications/tools/list_changed", "notifications/resources/list_changed",
                      "notifications/prompts/list_changed") and self.client is not None:
            # Not awaited here: the handler runs on the session's receive path, which the lists need.
            asyncio.get_running_loop().create_task(self._refresh_lists(method))
        elif method == "notifications/resources/updated" and self.on_resource_updated is not None:
            uri = str(getattr(getattr(message, "params", None), "uri", "") or "")
            if uri and uri in self.subscriptions.uris:
                await self.on_resource_updated(uri)
        elif isinstance(message, Exception):
            # A server writing garbage to stdout makes one parse error per line: log a few, one line each.
            self._transport_errors += 1
            if self._transport_errors <= TRANSPORT_ERRORS_LOGGED:
                self.log_line("WARNING", "transport", _describe(message).splitlines()[0][:TRANSPORT_ERROR_CHARS])
            elif self._transport_errors == TRANSPORT_ERRORS_LOGGED + 1:
                self.log_line("WARNING", "transport", "more transport errors on this connection are not logged")

    async def _refresh_lists(self, reason: str) -> None:
        client = self.client
        if client is None:
            return
        try:
            lists = await self._lists(client)
        except Exception as exc:
            self.log_line("WARNING", "lifecycle", f"{reason}: refresh failed: {_describe(exc)}")
            return
        self.info.update(lists)
        self._set_status(self.status, **lists)
        self.log_line("INFO", "lifecycle", f"{reason}: lists refreshed")

    async def _on_server_log(self, params) -> None:
        level = str(getattr(params, "level", "info"))
        data = getattr(params, "data", params)
        self.log_line(_LOG_LEVELS.get(level, "INFO"), "server", str(data))
        if len(self._log_listeners) == 1:
            token, listener = next(iter(self._log_listeners.items()))
            # The backend may have been made more verbose for another caller's request: this one hears
            # only what it asked for.
            if log_levels.at_least(level, self._wanted_levels.get(token)):
                await listener({"level": level, "logger": getattr(params, "logger", None), "data": data})

    # -- requests ---------------------------------------------------------------------------------

    async def request(self, kind: str, args: dict, timeout_s: float,
                      on_progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None,
                      on_log: Callable[[dict], Awaitable[None]] | None = None, call: CallInFlight | None = None) -> dict:
        """One MCP request; `call` when the server may ask the client something on the way (its questions
        go to that job)."""
        if kind in SUBSCRIPTION_KINDS:  # kept across reconnects: recorded even while the server restarts
            async with asyncio.timeout(timeout_s):
                return await self.subscriptions.change(kind, args["uri"], str(args["subscriber"]))
        client = self.client
        if client is None:
            raise ToolNotRunning(f"tool {self.tool['name']} is {self.status}")
        token = id(asyncio.current_task())
        self._log_listeners[token] = on_log or _ignore_log
        if call is not None:
            self.calls_in_flight[token] = call
            current_call.set(call)  # this task's own context: reset with the task
        self._wanted_levels[token] = log_levels.valid(args.get("log_level"))
        try:
            meta = await self._log_levels.before_request(client, self._wanted_levels[token])
            return await self._request(client, kind, args, timeout_s, on_progress, meta)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:  # the transport is gone: supervise (restart) now
                self._lost.set()
            raise
        finally:
            del self._log_listeners[token]
            self.calls_in_flight.pop(token, None)
            del self._wanted_levels[token]
            self._log_levels.after_request(client)

    def wanted_log_levels(self) -> list[str]:
        return [level for level in self._wanted_levels.values() if level is not None]

    async def _request(self, client: Client, kind: str, args: dict, timeout_s: float, on_progress,
                       meta: dict | None = None) -> dict:
        async with asyncio.timeout(timeout_s):
            if kind == "call":
                result = await client.call_tool(args["tool"], args.get("arguments") or {},
                                                read_timeout_seconds=timeout_s, progress_callback=on_progress,
                                                meta=meta)
            elif kind == "list_tools":
                result = await client.list_tools()
            elif kind == "list_resources":
                result = await client.list_resources()
            elif kind == "list_resource_templates":
                result = await client.list_resource_templates()
            elif kind == "read_resource":
                result = await client.read_resource(args["uri"], meta=meta)
            elif kind == "list_prompts":
                result = await client.list_prompts()
            elif kind == "get_prompt":
                result = await client.get_prompt(args["name"], args.get("arguments") or {}, meta=meta)
            elif kind == "complete":
                result = await client.complete(*completion_request(args))
            else:
                raise ValueError(f"unknown request kind {kind}")
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)

    def killed_because(self, reason: str) -> None:
        """The worker is killing this server for exceeding a limit: that is the failure to report."""
        self._kill_reason = f"killed: {reason}"
        self.log_line("ERROR", "lifecycle", self._kill_reason)

    def snapshot(self) -> dict:
        return {"status": self.status, "pid": self.pid, "started_at": self.started_at,
                "restart_count": self.restart_count, "last_error": self.last_error}

    # -- helpers ----------------------------------------------------------------------------------

    def _set_status(self, status: str, **fields) -> None:
        self.status = status
        self.report(status=status, **fields)

    def _with_stderr(self, error: str) -> str:
        tail = self._stderr.text() if self._stderr is not None else ""
        return f"{error}\n--- stderr ---\n{tail}" if tail else error


# MCP (syslog) log levels -> the tool log's levels.
_LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "notice": "INFO", "warning": "WARNING", "error": "ERROR",
               "critical": "ERROR", "alert": "ERROR", "emergency": "ERROR"}


async def _ignore_log(_message: dict) -> None:
    pass


async def _first_of(*aws) -> None:
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _dump_all(items) -> list[dict]:
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def completion_request(args: dict) -> tuple:
    """`Client.complete`'s arguments from a complete job's args (ref, argument, context as on the wire).
    A malformed one is the caller's error (INVALID_PARAMS), found before anything is sent."""
    ref = args.get("ref") if isinstance(args.get("ref"), dict) else {}
    argument = args.get("argument") if isinstance(args.get("argument"), dict) else {}
    context = args.get("context") if isinstance(args.get("context"), dict) else {}
    try:
        model = mcp_types.PromptReference if ref.get("type") == "ref/prompt" else mcp_types.ResourceTemplateReference
        reference = model.model_validate(ref)
    except ValueError as exc:
        raise MCPError(INVALID_PARAMS, f"invalid completion ref: {exc}") from None
    if not isinstance(argument.get("name"), str) or not isinstance(argument.get("value", ""), str):
        raise MCPError(INVALID_PARAMS, "argument must be {name, value} strings")
    arguments = context.get("arguments") if isinstance(context.get("arguments"), dict) else None
    return reference, {"name": argument["name"], "value": argument.get("value", "")}, arguments
