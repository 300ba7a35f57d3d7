"""Which live events a caller gets: those it may see (policy.access), narrowed by its subscription."""
from __future__ import annotations

from dataclasses import dataclass

from api.auth import Caller
from api.errors import abort
from api.ids import parse_id
from jobs.live_events import KINDS
from models import Tool
from policy import access as policy


@dataclass(frozen=True)
class Subscription:
    kinds: frozenset[str]
    tool_ids: frozenset[int] | None  # None: every tool

    @classmethod
    def from_query(cls, args) -> "Subscription":
        kinds = {kind.strip() for kind in (args.get("kinds") or "").split(",") if kind.strip()} or set(KINDS)
        unknown = kinds - set(KINDS)
        if unknown:
            abort(422, message=f"unknown event kinds: {', '.join(sorted(unknown))}",
                  errors={"kinds": [f"one or more of {', '.join(KINDS)}"]})
        refs = [ref.strip() for ref in (args.get("tools") or "").split(",") if ref.strip()]
        tool_ids = None
        if refs:
            names = {tool.name: tool.id for tool in Tool.select(Tool.id, Tool.name).where(Tool.name.in_(refs))}
            tool_ids = frozenset(parse_id(ref) if parse_id(ref) is not None else names.get(ref, -1) for ref in refs)
        return cls(frozenset(kinds), tool_ids)


def may_see_event(caller: Caller, event: dict) -> bool:
    user, api_key, tool_id, kind = caller.user, caller.api_key, event["tool_id"], event["kind"]
    if kind == "log":
        return policy.may_see_log(user, api_key, event["data"].get("kind", ""), tool_id)
    if kind == "task":
        return policy.may_see_task(user, api_key, {"tool_id": tool_id, "user_id": event["user_id"],
                                                   "kind": event["data"].get("kind")})
    if kind == "alert":
        return policy.may_see_alert(user, api_key, tool_id)
    if kind == "proxy":
        return policy.may_see_proxy_session(user, event["user_id"])
    if tool_id is not None:
        return policy.may_see_tool(user, api_key, tool_id)
    return policy.may_see_log(user, api_key, "system", None)  # anything else platform-wide


def wanted(caller: Caller, subscription: Subscription, event: dict) -> bool:
    if event["kind"] not in subscription.kinds:
        return False
    if subscription.tool_ids is not None and event["tool_id"] not in subscription.tool_ids:
        return False
    return may_see_event(caller, event)
