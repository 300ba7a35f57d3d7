"""The MCP methods the front door answers: a few itself (the handshake, discover, ping, lists from the
catalog, log level, subscriptions) and the rest as ONE job each on the owning worker's queue.

Each handler is `async (request, params) -> result dict`, the result in the backend's shape; the caller
(api/mcp_proxy/app.py) fits it to the client's revision (eras.for_client) and puts it on the wire.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from limits import parse_many
from mcp_types import INVALID_REQUEST, SERVER_INFO_META_KEY
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from api.mcp_proxy import policy
from api.mcp_proxy.asking import InputRequired, Questions
from api.mcp_proxy.auth import Caller
from api.mcp_proxy.catalog import URI_PREFIX, Backend, Catalog, View
from api.mcp_proxy.history import HistorySessions
from api.mcp_proxy.sessions import LOG_LEVELS, HandshakeSession, SessionStore
from api.mcp_proxy.wire import RpcError, invalid_params, method_not_found
from jobs import CallBudget, ErrorType, Job, JobError, RateLimited
from jobs.events import is_final, is_input_request

log = logging.getLogger("mcps.proxy")
SERVER_INFO = {"name": "mcps", "title": "mcps platform", "version": "0.1.0"}
INSTRUCTIONS = ("The tools, resources and prompts of every MCP server running on this mcps platform that you "
                "may use. Names that two servers share are prefixed with '<server>__'.")
AGGREGATE_CAPABILITIES = {"tools": {"listChanged": True}, "resources": {"subscribe": True, "listChanged": True},
                          "prompts": {"listChanged": True}, "logging": {}, "completions": {}}
# The worker answers by the job's deadline (a timeout is an answer too); we wait this much longer for it.
REPLY_GRACE_S = 2.0
# A subscribe answers once the backend's worker counted it (and subscribed on the server if first).
SUBSCRIBE_WAIT_S = 10.0
# A list may be this old: it is what a client reads right after a tool started (calls use the snapshot as
# it is, and look again only for a name it lacks).
LIST_MAX_AGE_S = 0.1

Emit = Callable[[dict], Awaitable[None]]


@dataclass
class Request:
    """One client request being served."""

    caller: Caller
    version: str
    view: View
    endpoint: str  # "" for /mcp, a tool's name for /mcp/tools/<tool>
    request_id: Any
    params: dict
    session: HandshakeSession | None = None
    emit: Emit | None = None  # sends a notification on this request's response stream
    disconnected: Callable[[], Awaitable[None]] | None = None  # returns when the client goes away
    log_level: str | None = None  # a 2026 request's `_meta` log level

    @property
    def progress_token(self):
        meta = self.params.get("_meta")
        return meta.get("progressToken") if isinstance(meta, dict) else None

    def wants_any_log(self) -> bool:
        return self.wanted_log_level() is not None

    def wanted_log_level(self) -> str | None:
        """The least severe server log level this client asked for (handshake session or 2026 `_meta`)."""
        level = self.session.log_level if self.session is not None else self.log_level
        return level if level in LOG_LEVELS else None

    def wants_log(self, level: str) -> bool:
        if self.session is not None:
            return self.session.wants_log(level)
        threshold = self.log_level
        return threshold in LOG_LEVELS and LOG_LEVELS.index(level if level in LOG_LEVELS else "info") >= \
            LOG_LEVELS.index(threshold)


@dataclass
class Services:
    settings: Any
    jobs: Any  # AsyncJobClient
    catalog: Catalog
    sessions: SessionStore
    budgets: dict = field(default_factory=dict)
    history: HistorySessions = field(default_factory=HistorySessions)

    def budget(self, caller: Caller) -> CallBudget:
        """The caller's call budget (settings.rate_limits.calls), the REST API's, checked at enqueue."""
        budget = self.budgets.get(caller.principal)
        if budget is None:
            limit = parse_many(self.settings.rate_limits.calls)[0]
            budget = self.budgets[caller.principal] = CallBudget(
                who=caller.principal, amount=limit.amount, window_ms=limit.get_expiry() * 1000, description=str(limit))
        return budget


class Methods:
    def __init__(self, services: Services):
        self.services = services
        self.questions = Questions(services.settings, services.jobs.redis, services.sessions)
        self.handlers: dict[str, Callable[[Request], Awaitable[dict]]] = {
            "server/discover": self.discover, "ping": self.ping,
            "tools/list": self.list_tools, "tools/call": self.call_tool,
            "resources/list": self.list_resources, "resources/templates/list": self.list_resource_templates,
            "resources/read": self.read_resource, "resources/subscribe": self.subscribe,
            "resources/unsubscribe": self.unsubscribe,
            "prompts/list": self.list_prompts, "prompts/get": self.get_prompt,
            "completion/complete": self.complete, "logging/setLevel": self.set_level,
        }

    async def handle(self, method: str, request: Request) -> dict:
        handler = self.handlers.get(method)
        if handler is None:
            raise method_not_found(method)
        if not policy.may(request.caller, method):
            raise RpcError(INVALID_REQUEST, f"{method} requires the {policy.role_for(method)} role "
                                            f"(you are {request.caller.role})")
        return await handler(request)

    # -- answered here ----------------------------------------------------------------------------

    def server_description(self, view: View, endpoint: str) -> tuple[dict, dict, str | None]:
        """(serverInfo, capabilities, instructions) of this endpoint: the platform's for /mcp, the
        backend's own for a single tool's endpoint."""
        if endpoint:
            backend = view.backend_named(endpoint)
            if backend is not None:
                return (backend.server_info or {"name": endpoint, "version": ""},
                        _served_capabilities(backend.capabilities), backend.instructions)
            return {"name": endpoint, "version": ""}, AGGREGATE_CAPABILITIES, None
        return SERVER_INFO, AGGREGATE_CAPABILITIES, INSTRUCTIONS

    def initialize_result(self, view: View, endpoint: str, requested: Any) -> dict:
        version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        info, capabilities, instructions = self.server_description(view, endpoint)
        result = {"protocolVersion": version, "capabilities": capabilities, "serverInfo": info}
        if instructions:
            result["instructions"] = instructions
        return result

    async def discover(self, request: Request) -> dict:
        info, capabilities, instructions = self.server_description(request.view, request.endpoint)
        result = {"supportedVersions": list(MODERN_PROTOCOL_VERSIONS), "capabilities": capabilities,
                  "_meta": {SERVER_INFO_META_KEY: info}}
        if instructions:
            result["instructions"] = instructions
        return result

    async def ping(self, request: Request) -> dict:
        return {}

    async def list_tools(self, request: Request) -> dict:
        return await self._page(request, "tools")

    async def list_resources(self, request: Request) -> dict:
        return await self._page(request, "resources")

    async def list_prompts(self, request: Request) -> dict:
        return await self._page(request, "prompts")

    async def _page(self, request: Request, key: str) -> dict:
        if await self.services.catalog.ensure_fresh(LIST_MAX_AGE_S):
            self._fresh_view(request)
        items = getattr(request.view, key)
        size = self.services.settings.mcp.proxy.page_size
        start = _cursor_offset(request.params.get("cursor"))
        page = {key: items[start:start + size]}
        if start + size < len(items):
            page["nextCursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return page

    async def set_level(self, request: Request) -> dict:
        level = request.params.get("level")
        if level not in LOG_LEVELS:
            raise invalid_params(f"level must be one of {', '.join(LOG_LEVELS)}")
        if request.session is not None:
            await self.services.sessions.set_log_level(request.session.id, level)
        return {}

    async def subscribe(self, request: Request) -> dict:
        """Handshake era: remembered in the session (any proxy process delivers the updates on its GET
        stream) and counted on the worker holding the backend, which subscribes on the server."""
        uri = _string_param(request.params, "uri")
        route = request.view.route_resource(uri)
        if route is None:
            raise invalid_params(f"no resource {uri}")
        if request.session is not None:
            await self.resource_subscription(request.caller, route, request.session.id, subscribe=True)
            await self.services.sessions.subscribe(request.session.id, uri)
        return {}

    async def unsubscribe(self, request: Request) -> dict:
        uri = _string_param(request.params, "uri")
        if request.session is not None:
            await self.services.sessions.unsubscribe(request.session.id, uri)
            route = request.view.route_resource(uri)
            if route is not None:
                await self.resource_subscription(request.caller, route, request.session.id, subscribe=False)
        return {}

    async def resource_subscription(self, caller: Caller, route: tuple[Backend, str], subscriber: str,
                                    subscribe: bool) -> None:
        """Count `subscriber` in (or out of) the backend's subscribers of the URI: one job on its worker."""
        backend, original = route
        kind = "subscribe_resource" if subscribe else "unsubscribe_resource"
        job = Job(kind=kind, tool_id=backend.id, args={"uri": original, "subscriber": subscriber},
                  user_id=caller.user_id, deadline=time.time() + SUBSCRIBE_WAIT_S, record=False)
        try:
            event = await self.services.jobs.run(job, SUBSCRIBE_WAIT_S + REPLY_GRACE_S)
        except JobError as error:
            event = error.event()
        if event.get("status") != "succeeded":
            error_type = ErrorType.of(event.get("error_type"))
            raise RpcError(event.get("mcp_error_code") or error_type.jsonrpc_code,
                           event.get("error") or error_type.value, {"error_type": error_type.value})

    async def forget_subscriptions(self, caller: Caller, view: View, subscriber: str, uris) -> None:
        """A subscriber went away (session deleted, listen stream closed): count it out of every URI."""
        routes = [route for route in map(view.route_resource, uris) if route is not None]
        results = await asyncio.gather(*(self.resource_subscription(caller, route, subscriber, subscribe=False)
                                         for route in routes), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("event=proxy.unsubscribe_failed subscriber=%s error=%r", subscriber, result)

    # -- one job each -----------------------------------------------------------------------------

    async def call_tool(self, request: Request) -> dict:
        return await self._named_job(request, "tool_routes", "call", "tool", "tools/call", "Unknown tool")

    async def read_resource(self, request: Request) -> dict:
        uri = _string_param(request.params, "uri")
        route = request.view.route_resource(uri)
        if route is None:
            await self.services.catalog.refresh()
            route = self._fresh_view(request).route_resource(uri)
        if route is None:
            raise invalid_params(f"Unknown resource: {uri}")
        backend, original = route
        return await self.run_job(request, "read_resource", backend, {"uri": original}, ("resources/read", uri))

    async def get_prompt(self, request: Request) -> dict:
        return await self._named_job(request, "prompt_routes", "get_prompt", "name", "prompts/get",
                                     "Unknown prompt")

    async def _named_job(self, request: Request, routes: str, kind: str, name_arg: str, method: str,
                         unknown: str) -> dict:
        """tools/call and prompts/get: a name routed to its backend, with an arguments object."""
        name = _string_param(request.params, "name")
        arguments = request.params.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise invalid_params("arguments must be an object")
        route = await self._route(request, routes, name)
        if route is None:
            raise invalid_params(f"{unknown}: {name}")
        backend, original = route
        return await self.run_job(request, kind, backend, {name_arg: original, "arguments": arguments},
                                  (method, name))

    async def complete(self, request: Request) -> dict:
        ref = request.params.get("ref")
        if not isinstance(ref, dict):
            raise invalid_params("ref must be an object")
        if ref.get("type") == "ref/prompt":
            route = await self._route(request, "prompt_routes", _string_param(ref, "name"))
            ref_key = "name"
        elif ref.get("type") == "ref/resource":
            route = request.view.route_resource(_string_param(ref, "uri"))
            ref_key = "uri"
        else:
            raise invalid_params("ref.type must be ref/prompt or ref/resource")
        if route is None:
            raise invalid_params("Unknown completion reference")
        backend, original = route
        args = {"ref": {**ref, ref_key: original}, "argument": request.params.get("argument"),
                "context": request.params.get("context")}
        return await self.run_job(request, "complete", backend, args)

    async def list_resource_templates(self, request: Request) -> dict:
        """Templates are not cached by the workers: ask every backend serving resources, one job each,
        at once. With more than one, their URIs are prefixed with `mcps://<tool>/` to route reads."""
        serving = [b for b in request.view.backends if "resources" in b.capabilities]
        results = await asyncio.gather(*(self.run_job(request, "list_resource_templates", backend, {})
                                         for backend in serving), return_exceptions=True)
        templates = []
        for backend, result in zip(serving, results):
            if isinstance(result, BaseException):
                log.warning("event=proxy.templates_failed tool=%s error=%r", backend.name, result)
                continue
            for template in result.get("resourceTemplates", []):
                if len(serving) > 1:
                    template = {**template, "uriTemplate": f"{URI_PREFIX}{backend.name}/{template['uriTemplate']}"}
                templates.append(template)
        return {"resourceTemplates": templates}

    async def run_job(self, request: Request, kind: str, backend: Backend, args: dict,
                      call: tuple[str, str] | None = None) -> dict:
        """One job on the backend's owner; its result, or the job's failure as a JSON-RPC error.

        The client going away (2026: closing the stream) cancels the job, as does a handshake-era
        `notifications/cancelled` naming the request (app.py). `call` (method, name) marks a request whose
        backend may ask the client something (asking.py); a 2026 client's retry of it, carrying a
        `requestState`, resumes the job it names instead of starting one."""
        services = self.services
        every_event = request.emit is not None and (request.progress_token is not None or request.wants_any_log())
        if call is not None and request.session is None and "requestState" in request.params:
            resume = await self.questions.resume(request, call)
            steps = services.jobs.resume_steps(resume.job_id, resume.after,
                                               max(resume.deadline - time.time(), 0) + REPLY_GRACE_S, every_event)
            return await self._drive(request, resume.job_id, steps, call, resume.deadline)
        wait_s = services.settings.mcp.jobs.wait_max_s
        level = request.wanted_log_level()
        if level is not None:  # the worker makes the backend verbose enough for this call (workers/log_levels.py)
            args = {**args, "log_level": level}
        session_id = await services.history.session_for(request.caller) if kind == "call" else None
        job = Job(kind=kind, tool_id=backend.id, args=args, user_id=request.caller.user_id,
                  session_id=session_id, deadline=time.time() + wait_s)
        if request.session is not None:
            # Not awaited: the mapping is only read by a cancellation, which comes after the call went out.
            asyncio.get_running_loop().create_task(
                services.sessions.remember_request(request.session.id, request.request_id, job.id))
        # Enqueue and first wait in one round trip; then the events the client is to hear of, if any.
        steps = services.jobs.steps(job, wait_s + REPLY_GRACE_S, services.budget(request.caller), every_event)
        return await self._drive(request, job.id, steps, call or (kind, ""), job.deadline)

    async def _drive(self, request: Request, job_id: str, steps, call: tuple[str, str], deadline: float) -> dict:
        services = self.services
        running = asyncio.ensure_future(self._outcome(request, job_id, steps, call, deadline))
        try:
            if request.disconnected is not None:
                gone = asyncio.ensure_future(request.disconnected())
                await asyncio.wait((running, gone), return_when=asyncio.FIRST_COMPLETED)
                if not running.done():
                    running.cancel()
                    await services.jobs.cancel(job_id)
                    log.info("event=proxy.cancelled reason=client_gone job=%s", job_id)
                    raise RpcError(ErrorType.CANCELLED.jsonrpc_code, "the client went away; the job was cancelled")
                gone.cancel()
            event = await running
        except RateLimited as refusal:
            event = refusal.event
        except (JobError, TimeoutError) as error:
            error_type = ErrorType.of(getattr(error, "error_type", "wait_timeout"))
            raise RpcError(error_type.jsonrpc_code, str(error) or "no result in time",
                           {"error_type": error_type.value, "task_id": job_id}) from None
        if isinstance(event, InputRequired):
            return event.result
        if event.get("status") != "succeeded":
            error_type = ErrorType.of(event.get("error_type"))
            # A backend's own JSON-RPC error (unknown tool, bad arguments) reaches the client as it was.
            code = event.get("mcp_error_code") or error_type.jsonrpc_code
            raise RpcError(code, event.get("error") or error_type.value,
                           {"error_type": error_type.value, "task_id": job_id})
        return event["result"]

    async def _outcome(self, request: Request, job_id: str, steps, call: tuple[str, str], deadline: float):
        """The job's final event, or an InputRequired for a 2026 client; on the way, progress and log
        events go to the client and the backend's questions are put to it."""
        forward = self._event_forwarder(request)
        try:
            async for entry_id, event in steps:
                if is_final(event):
                    return event
                if is_input_request(event):
                    asked = await self.questions.ask(request, job_id, entry_id, event, call, deadline)
                    if asked is not None:
                        return asked
                else:
                    await forward(event)
        finally:
            await steps.aclose()
        raise JobError("the job's stream ended without a result", "internal")

    def _event_forwarder(self, request: Request):
        token = request.progress_token

        async def forward(event: dict) -> None:
            kind = event.get("type")
            if kind == "progress" and token is not None:
                params = {"progressToken": token, "progress": event.get("progress")}
                for name in ("total", "message"):
                    if event.get(name) is not None:
                        params[name] = event[name]
                await request.emit({"method": "notifications/progress", "params": params})
            elif kind == "log" and request.wants_log(str(event.get("level", "info"))):
                params = {"level": event.get("level", "info"), "data": event.get("data")}
                if event.get("logger"):
                    params["logger"] = event["logger"]
                await request.emit({"method": "notifications/message", "params": params})
        return forward

    async def _route(self, request: Request, routes: str, name: str) -> tuple[Backend, str] | None:
        route = getattr(request.view, routes).get(name)
        if route is None:  # perhaps a tool that started a moment ago: look again
            await self.services.catalog.refresh()
            route = getattr(self._fresh_view(request), routes).get(name)
        return route

    def _fresh_view(self, request: Request) -> View:
        request.view = self.services.catalog.view(request.caller.tool_scope, request.endpoint or None)
        return request.view


def _served_capabilities(capabilities: dict) -> dict:
    """A backend's capabilities as its own endpoint serves them: the proxy sends list changes and
    resource updates for every backend, whatever the backend itself offers."""
    served = {name: dict(value) for name, value in capabilities.items() if isinstance(value, dict)}
    for kind in ("tools", "prompts", "resources"):
        if kind in served:
            served[kind]["listChanged"] = True
    served.setdefault("logging", {})
    return served


def _string_param(params: dict, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise invalid_params(f"{name} must be a string")
    return value


def _cursor_offset(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise invalid_params("invalid cursor") from None
    if offset < 0:
        raise invalid_params("invalid cursor")
    return offset
