"""What the front door serves: the running tools, their MCP lists (cached in the tools table by their
workers), and the names a client sees for them.

One snapshot per proxy process, reloaded from the database in a thread when a worker announces a tool
change (notices.py), at once when a request names something the snapshot does not know, and every
`refresh_s` as a safety net, so that a request reads memory only. A
reload that changes a list bumps `version` and tells the listeners which lists changed: the GET and
`subscriptions/listen` streams turn that into `notifications/*/list_changed`.

Names (`mcp.proxy.naming`): `on_conflict` keeps a name unique among the tools a caller sees and prefixes
the others with `<tool>__`; `always` prefixes every name. Resource URIs that collide become
`mcps://<tool>/<uri>`. A single-tool view (`/mcp/tools/<tool>`) renames nothing. A virtual server's
view (`/mcp/servers/<name>`, api/mcp_proxy/virtual.py) applies its renames first, then the naming policy.
The naming policy and the virtual servers change at run time (`configure`, from api/mcp_proxy/control.py).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from api.mcp_proxy import virtual
from models import Tool

log = logging.getLogger("mcps.proxy")
SEPARATOR = "__"  # tool names are slugs (no underscores): the first "__" splits unambiguously
URI_PREFIX = "mcps://"
LISTS = ("tools", "resources", "prompts")
_FIELDS = (Tool.id, Tool.name, Tool.protocol_version, Tool.server_info, Tool.capabilities, Tool.instructions,
           Tool.mcp_tools, Tool.mcp_resources, Tool.mcp_prompts)


@dataclass(frozen=True)
class Backend:
    """A running tool as the proxy knows it."""

    id: int
    name: str
    protocol_version: str | None
    server_info: dict | None
    capabilities: dict
    instructions: str | None
    tools: tuple
    resources: tuple
    prompts: tuple


@dataclass
class View:
    """What one caller sees: renamed lists and the routes back to (backend, original name)."""

    backends: list[Backend]
    tools: list[dict] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)
    prompts: list[dict] = field(default_factory=list)
    tool_routes: dict[str, tuple[Backend, str]] = field(default_factory=dict)
    resource_routes: dict[str, tuple[Backend, str]] = field(default_factory=dict)
    prompt_routes: dict[str, tuple[Backend, str]] = field(default_factory=dict)

    def backend_named(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)

    def route_resource(self, uri: str) -> tuple[Backend, str] | None:
        """The backend of a URI: a listed one, a `mcps://<tool>/...` one, or the only backend serving
        resources (a URI from one of its templates)."""
        route = self.resource_routes.get(uri)
        if route is not None:
            return route
        if uri.startswith(URI_PREFIX):
            name, _, original = uri[len(URI_PREFIX):].partition("/")
            backend = self.backend_named(name)
            return (backend, original) if backend is not None else None
        serving = [b for b in self.backends if "resources" in b.capabilities]
        return (serving[0], uri) if len(serving) == 1 else None


Listener = Callable[[set[str]], Awaitable[None]]


class Catalog:
    def __init__(self, naming: str = "on_conflict", refresh_s: float = 0.5):
        self.naming = naming
        self.refresh_s = refresh_s
        self.backends: list[Backend] = []
        self.version = 0
        self.loaded_at = 0.0
        self._fingerprints: dict[str, int] = {}
        self._views: dict[tuple, View] = {}
        self._listeners: set[Listener] = set()
        self._lock = asyncio.Lock()
        self.virtual_servers: dict[str, virtual.VirtualServer] = {}
        self._stale = False
        self._reloading: asyncio.Task | None = None

    # -- loading ----------------------------------------------------------------------------------

    async def refresh(self) -> None:
        async with self._lock:
            backends = await asyncio.to_thread(_load_running)
            self.loaded_at = time.monotonic()
            fingerprints = {kind: hash(tuple((b.name, repr(getattr(b, kind))) for b in backends)) for kind in LISTS}
            changed = {kind for kind in LISTS if fingerprints[kind] != self._fingerprints.get(kind)}
            if not changed:
                return
            first_load = not self._fingerprints
            self.backends, self._fingerprints = backends, fingerprints
            self.version += 1
            self._views.clear()
        log.info("event=proxy.catalog version=%s backends=%s changed=%s", self.version, len(backends),
                 ",".join(sorted(changed)))
        if not first_load:
            for listener in list(self._listeners):
                try:
                    await listener(changed)
                except Exception:  # one broken stream must not stop the others hearing of it
                    log.exception("event=proxy.listener_failed")

    async def ensure_fresh(self, max_age_s: float) -> bool:
        """Reload when the snapshot is older than `max_age_s`; True when it did."""
        if time.monotonic() - self.loaded_at <= max_age_s:
            return False
        await self.refresh()
        return True

    def refresh_soon(self) -> None:
        """Reload without waiting for it; notices that arrive during a reload make one more, not one each."""
        self._stale = True
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self._reload_while_stale())

    async def _reload_while_stale(self) -> None:
        while self._stale:
            self._stale = False
            try:
                await self.refresh()
            except Exception as error:  # the database may be briefly away; the poll tries again
                log.warning("event=proxy.catalog_refresh_failed error=%r", error)

    async def run_refresher(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as error:  # the database may be briefly away; serve the last snapshot
                log.warning("event=proxy.catalog_refresh_failed error=%r", error)

    async def configure(self, naming: str, virtual_servers: dict[str, virtual.VirtualServer]) -> None:
        """Apply the front door's live settings: every view is rebuilt, and streams hear of the lists
        that changed for them (their listeners compare views)."""
        if naming == self.naming and virtual_servers == self.virtual_servers:
            return
        self.naming, self.virtual_servers = naming, virtual_servers
        self._views.clear()
        self.version += 1
        log.info("event=proxy.configured naming=%s virtual_servers=%s", naming, ",".join(sorted(virtual_servers)))
        for listener in list(self._listeners):
            try:
                await listener(set(LISTS))
            except Exception:  # one broken stream must not stop the others hearing of it
                log.exception("event=proxy.listener_failed")

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    # -- views ------------------------------------------------------------------------------------

    def view(self, tool_scope: frozenset[int] | None, only: str | None = None) -> View:
        """The view of a caller with this tool scope (tool ids); `only` a tool's name for its own endpoint
        (or a virtual server's endpoint name)."""
        cache_key = (tool_scope, only)
        view = self._views.get(cache_key)
        if view is None and only is not None and virtual.server_name_of(only) is not None:
            view = self._views[cache_key] = self._virtual_view(virtual.server_name_of(only), tool_scope)
        if view is None:
            backends = [b for b in self.backends
                        if (tool_scope is None or b.id in tool_scope) and (only is None or b.name == only)]
            view = self._views[cache_key] = build_view(backends, self.naming if only is None else "never")
        return view


    def _virtual_view(self, name: str, tool_scope: frozenset[int] | None) -> View:
        server = self.virtual_servers.get(name)
        if server is None:
            return View(backends=[])
        backends, originals = virtual.select(server, self.backends, tool_scope)
        view = build_view(backends, self.naming)
        view.tool_routes = {shown: (backend, originals[backend.id].get(name, name))
                            for shown, (backend, name) in view.tool_routes.items()}
        return view


def build_view(backends: list[Backend], naming: str) -> View:
    view = View(backends=backends)
    _name_items(view, backends, "tools", "name", view.tools, view.tool_routes, naming, _prefixed_name)
    _name_items(view, backends, "prompts", "name", view.prompts, view.prompt_routes, naming, _prefixed_name)
    _name_items(view, backends, "resources", "uri", view.resources, view.resource_routes, naming, _prefixed_uri)
    return view


def _name_items(view, backends, kind, key, items, routes, naming, rename) -> None:
    counts = Counter(item[key] for b in backends for item in getattr(b, kind))
    for backend in backends:
        for item in getattr(backend, kind):
            original = item[key]
            shown = original
            if naming == "always" or (naming == "on_conflict" and counts[original] > 1):
                shown = rename(backend.name, original)
            items.append({**item, key: shown} if shown != original else item)
            routes[shown] = (backend, original)


def _prefixed_name(tool: str, name: str) -> str:
    return f"{tool}{SEPARATOR}{name}"


def _prefixed_uri(tool: str, uri: str) -> str:
    return f"{URI_PREFIX}{tool}/{uri}"


def _load_running() -> list[Backend]:
    rows = Tool.select(*_FIELDS).where(Tool.status == "RUNNING").order_by(Tool.name)
    return [Backend(id=row.id, name=row.name, protocol_version=row.protocol_version, server_info=row.server_info,
                    capabilities=row.capabilities or {}, instructions=row.instructions,
                    tools=tuple(row.mcp_tools or ()), resources=tuple(row.mcp_resources or ()),
                    prompts=tuple(row.mcp_prompts or ()))
            for row in rows]
