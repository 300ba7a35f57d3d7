"""The front door's live config in the database (models.proxy), as the REST API reads and writes it.

A write bumps the config generation in Redis (api.mcp_proxy.control) and waits, briefly, for every live
proxy process to apply it: the answer says which had not yet.
"""
from __future__ import annotations

import time

from api.mcp_proxy import control
from models import ProxySetting, Tool, VirtualServer, db, utcnow
from models.proxy import read_config
from policy import access as policy

APPLY_WAIT_S = 3.0


def resolve_members(members: list[dict]) -> list[dict]:
    """Stored members (tools by id) of validated input (tools by id or name). Raises policy.UnknownTools
    naming every reference that is no tool, and ValueError when two references are the same tool."""
    refs = [member["tool"] for member in members]
    policy.resolve_tool_refs(refs)
    ids = [policy.resolve_tool_refs([ref])[0] for ref in refs]
    if len(set(ids)) != len(ids):
        raise ValueError("a tool is listed twice (by its name and its id)")
    return [{"tool_id": tool_id, "include": member.get("include"), "hidden": member.get("hidden") or [],
             "renames": member.get("renames") or {}, "descriptions": member.get("descriptions") or {}}
            for tool_id, member in zip(ids, members)]


def server_view(server: dict, names: dict[int, str]) -> dict:
    return {"name": server["name"], "description": server["description"], "path": f"/mcp/servers/{server['name']}",
            "tools": [{**member, "tool": names.get(member["tool_id"])} for member in server["members"]]}


def config_view(default_naming: str) -> dict:
    config = read_config(default_naming)
    names = {tool.id: tool.name for tool in Tool.select(Tool.id, Tool.name)}
    return {"naming": config["naming"], "virtual_servers": [server_view(s, names) for s in config["virtual_servers"]]}


def write_config(naming: str | None, servers: list[dict] | None, user_id: int) -> None:
    """Store the naming policy and/or replace every virtual server (servers already resolved)."""
    with db.atomic():
        if naming is not None:
            ProxySetting.insert(name="naming", value=naming, updated_at=utcnow()).on_conflict(
                conflict_target=[ProxySetting.name], update={ProxySetting.value: naming,
                                                             ProxySetting.updated_at: utcnow()}).execute()
        if servers is not None:
            VirtualServer.delete().execute()
            for server in servers:
                VirtualServer.create(created_by=user_id, **server)


def save_server(server: dict, user_id: int) -> None:
    with db.atomic():
        existing = VirtualServer.get_or_none(VirtualServer.name == server["name"])
        if existing is None:
            VirtualServer.create(created_by=user_id, **server)
        else:
            VirtualServer.update(description=server["description"], members=server["members"],
                                 updated_at=utcnow()).where(VirtualServer.id == existing.id).execute()


def announce(redis, settings, applied) -> dict:
    """Tell the proxy processes, wait until each applied it (`applied(heartbeat, generation)`) or
    APPLY_WAIT_S passed; {"generation", "pending_processes"}."""
    generation = control.bump_generation(redis, settings)
    return {"generation": generation, "pending_processes": wait_for_processes(
        redis, settings, lambda beat: applied(beat, generation))}


def wait_for_processes(redis, settings, done) -> list[str]:
    """Ids of the live proxy processes not yet `done(heartbeat)` after at most APPLY_WAIT_S."""
    deadline = time.monotonic() + APPLY_WAIT_S
    while True:
        pending = [beat["id"] for beat in control.live_processes(redis, settings) if not done(beat)]
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.05)
