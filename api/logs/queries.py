"""Which log entries a caller may see, as a query (the SQL twin of policy.access.may_see_log), and the
filters of LogFilterArgs applied to it."""
from __future__ import annotations

from typing import Mapping

import peewee

from api.auth import Caller
from api.errors import abort
from api.ids import parse_id
from models import LogEntry, Tool, User
from models.log_search import matching
from policy import access as policy

LEVEL_RANK = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def visible_logs(caller: Caller) -> peewee.ModelSelect:
    query = LogEntry.select()
    if not policy.may_read_audit(caller.user, caller.api_key):
        query = query.where(LogEntry.category != policy.AUDIT_KIND)
    scope = policy.scope_of(caller.api_key)
    if scope is not None:  # a scoped key: its tools' entries only (no platform-wide ones)
        query = query.where(LogEntry.tool_id.in_(sorted(scope)) if scope else peewee.SQL("1 = 0"))
    return query


def _tool_id(ref: str) -> int:
    tool_id = parse_id(ref)
    if tool_id is None:
        tool = Tool.get_or_none(Tool.name == ref)
        tool_id = tool.id if tool is not None else -1  # no such tool: no entries (not a 404: logs outlive tools)
    return tool_id


def _user_id(ref: str) -> int:
    user_id = parse_id(ref)
    if user_id is None:
        user = User.get_or_none(User.username == ref)
        user_id = user.id if user is not None else -1
    return user_id


def filtered(query: peewee.ModelSelect, args: Mapping) -> peewee.ModelSelect:
    if "kind" in args:
        query = query.where(LogEntry.category == args["kind"])
    if "level" in args:
        query = query.where(LogEntry.level == args["level"])
    if "min_level" in args:
        levels = [level for level, rank in LEVEL_RANK.items() if rank >= LEVEL_RANK[args["min_level"]]]
        query = query.where(LogEntry.level.in_(levels))
    if "tool" in args:
        query = query.where(LogEntry.tool_id == _tool_id(args["tool"]))
    if "user" in args:
        query = query.where(LogEntry.user_id == _user_id(args["user"]))
    if "source" in args:
        query = query.where(LogEntry.source == args["source"])
    if "task_id" in args:
        query = query.where(LogEntry.task_id == args["task_id"])
    if "text" in args:
        query = query.where(LogEntry.message.contains(args["text"]))
    if "since" in args:
        query = query.where(LogEntry.created_at >= args["since"])
    if "until" in args:
        query = query.where(LogEntry.created_at < args["until"])
    if "before" in args:
        query = query.where(LogEntry.created_at < args["before"])
    if args.get("q"):
        query = matching(query, args["q"])
    return query


def find_visible(caller: Caller, log_id: int) -> LogEntry:
    entry = visible_logs(caller).where(LogEntry.id == log_id).first()
    if entry is None:
        abort(404, message=f"no log entry {log_id}")
    return entry


def deletable(query: peewee.ModelSelect) -> peewee.ModelSelect:
    """Never the audit trail: it is deleted only by retention, after logging.retention_days."""
    return query.where(LogEntry.category != policy.AUDIT_KIND)


def delete_matching(query: peewee.ModelSelect) -> int:
    ids = deletable(query).select(LogEntry.id)
    return LogEntry.delete().where(LogEntry.id.in_(ids)).execute()
