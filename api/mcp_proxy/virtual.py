"""Virtual servers: a named subset of the running tools served at /mcp/servers/<name>, each member tool's
MCP tools cut down (`include`, `hidden`), renamed and re-described as an admin defined them
(models.proxy.VirtualServer, edited through /api/v1/proxy).

Pure functions of the catalog's snapshot: the catalog builds a virtual server's view from the backends
`select` returns, and maps the names a client sees back to the server's own names with `originals`.
A virtual server never widens access: an API key still sees only the tools of its scope.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.mcp_proxy.catalog import Backend

ENDPOINT_PREFIX = "@"  # a virtual server's endpoint name; tool names are slugs and never start with it


@dataclass(frozen=True)
class Member:
    tool_id: int
    include: frozenset[str] | None = None  # None: every MCP tool of the server
    hidden: frozenset[str] = frozenset()
    renames: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def shows(self, name: str) -> bool:
        return name not in self.hidden and (self.include is None or name in self.include)


@dataclass(frozen=True)
class VirtualServer:
    name: str
    description: str
    members: tuple[Member, ...]

    @classmethod
    def from_row(cls, name: str, description: str, members: list[dict]) -> "VirtualServer":
        return cls(name=name, description=description or "", members=tuple(
            Member(tool_id=int(m["tool_id"]),
                   include=frozenset(m["include"]) if m.get("include") is not None else None,
                   hidden=frozenset(m.get("hidden") or ()), renames=dict(m.get("renames") or {}),
                   descriptions=dict(m.get("descriptions") or {}))
            for m in members or ()))


def endpoint_of(server_name: str) -> str:
    return ENDPOINT_PREFIX + server_name


def server_name_of(endpoint: str) -> str | None:
    """The virtual server an endpoint names, or None for /mcp and a tool's own endpoint."""
    return endpoint[len(ENDPOINT_PREFIX):] if endpoint.startswith(ENDPOINT_PREFIX) else None


def select(server: VirtualServer, backends: list["Backend"], tool_scope: frozenset[int] | None
           ) -> tuple[list["Backend"], dict[int, dict[str, str]]]:
    """The member backends this scope may see, their MCP tools as the virtual server shows them; and per
    backend id, {shown name: the server's own name} for the renamed ones."""
    members = {member.tool_id: member for member in server.members}
    chosen, originals = [], {}
    for backend in backends:
        member = members.get(backend.id)
        if member is None or (tool_scope is not None and backend.id not in tool_scope):
            continue
        tools, renamed = [], {}
        for tool in backend.tools:
            name = tool["name"]
            if not member.shows(name):
                continue
            shown = {**tool, "name": member.renames.get(name, name)}
            if name in member.descriptions:
                shown["description"] = member.descriptions[name]
            if shown["name"] != name:
                renamed[shown["name"]] = name
            tools.append(shown)
        chosen.append(dataclasses.replace(backend, tools=tuple(tools)))
        originals[backend.id] = renamed
    return chosen, originals
