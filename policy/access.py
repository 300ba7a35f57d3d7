"""The access policy, as plain functions of (user, API key, tool id / task / workflow).

No Flask here: the REST API (api.auth.access wraps these for a request), the scheduler and the asyncio
MCP front door call the same functions. Rules:
- roles rank admin > operator > viewer; a disabled user may do nothing;
- an API key acts as its user, limited to its `tool_scope`: tool ids (null: every tool). Ids, not names,
  so that renaming tools never moves rights;
- a task is visible to its owner, and to operators and admins; an API key sees it only when every tool
  the task touches is in its scope (a task that names no tool: only its own user's);
- a question a task's MCP server asks its client (elicitation, sampling, roots) is answered only by the
  task's owner, with the right to call every tool the task touches (an API key: within its scope);
- a stored workflow is changed by its owner or an admin, and runs only while its owner may call every
  tool of its steps (checked on storing, editing, starting and when a scheduled run fires).
"""
from __future__ import annotations

from typing import Iterable

from jobs.workflow import validate_definition
from models import ROLES, ApiKey, Tool, User

ROLE_RANK = {role: rank for rank, role in enumerate(reversed(ROLES), start=1)}  # viewer 1 .. admin 3
WORKFLOW_KINDS = ("workflow", "workflow_run")


class UnknownTools(ValueError):
    """Tool references (names or ids) that name no tool."""

    def __init__(self, refs: list):
        super().__init__(f"no tool {', '.join(str(ref) for ref in refs)}")
        self.refs = refs


def has_role(user: User | None, role: str) -> bool:
    return user is not None and ROLE_RANK.get(user.role, 0) >= ROLE_RANK[role]


# -- tool scope ---------------------------------------------------------------------------------------

def scope_of(api_key: ApiKey | None) -> frozenset[int] | None:
    """The tool ids this key may use; None when it may use every tool (or there is no key: a JWT)."""
    if api_key is None or api_key.tool_scope is None:
        return None
    return frozenset(int(tool_id) for tool_id in api_key.tool_scope)


def in_scope(api_key: ApiKey | None, tool_id: int | None) -> bool:
    scope = scope_of(api_key)
    return scope is None or (tool_id is not None and tool_id in scope)


def may_see_tool(user: User, api_key: ApiKey | None, tool_id: int) -> bool:
    """Read a tool: its definition, status, logs, capabilities, list its resources."""
    return user.is_active and has_role(user, "viewer") and in_scope(api_key, tool_id)


def may_call_tool(user: User, api_key: ApiKey | None, tool_id: int) -> bool:
    """Call a tool (tools/call, read a resource, get a prompt), directly, aggregated or as a step."""
    return user.is_active and has_role(user, "operator") and in_scope(api_key, tool_id)


def resolve_tool_refs(refs: Iterable[int | str]) -> list[int]:
    """Tool ids for references given as ids or names (API keys' scopes on input); raises UnknownTools."""
    refs = list(refs)
    ids = {ref for ref in refs if isinstance(ref, int)}
    names = {ref for ref in refs if isinstance(ref, str)}
    found_ids = {tool.id for tool in Tool.select(Tool.id).where(Tool.id.in_(ids))} if ids else set()
    by_name = {tool.name: tool.id for tool in Tool.select(Tool.id, Tool.name).where(Tool.name.in_(names))} if names else {}
    missing = [ref for ref in refs if (ref not in found_ids if isinstance(ref, int) else ref not in by_name)]
    if missing:
        raise UnknownTools(missing)
    return sorted(ids | set(by_name.values()))


def forget_tool(tool_id: int) -> None:
    """Take a deleted tool out of every key's scope: SQLite may give its id to the next tool created,
    which must not inherit the rights. (Call in the transaction that deletes the tool.)"""
    for api_key in ApiKey.select(ApiKey.id, ApiKey.tool_scope).where(ApiKey.tool_scope.is_null(False)):
        if tool_id in (api_key.tool_scope or []):
            ApiKey.update(tool_scope=[t for t in api_key.tool_scope if t != tool_id]).where(
                ApiKey.id == api_key.id).execute()


# -- tasks and workflows ------------------------------------------------------------------------------

def task_tool_ids(task: dict) -> set[int]:
    """Every tool a task touches: its tool, or for a workflow (run) the tools of its steps."""
    if task.get("tool_id") is not None:
        return {task["tool_id"]}
    if task.get("kind") not in WORKFLOW_KINDS:
        return set()
    args = task.get("args") or {}
    if isinstance(args.get("tool_ids"), dict):  # a run records the ids it was checked and started with
        return {int(tool_id) for tool_id in args["tool_ids"].values()}
    definition = task.get("definition") or args.get("definition")
    try:
        return set(workflow_tool_ids(definition).values())
    except (ValueError, UnknownTools):
        return {-1}  # not resolvable (a step's tool was deleted): no scoped key may see it


def may_see_task(user: User, api_key: ApiKey | None, task: dict) -> bool:
    """Read a task (its row, status, result and events). `task` is the row or the in-flight view."""
    if not user.is_active:
        return False
    owner = task.get("user_id")
    if owner != user.id and not has_role(user, "operator"):
        return False  # viewers see their own; a task of no known owner is not theirs either
    scope = scope_of(api_key)
    if scope is None:
        return True
    tools = task_tool_ids(task)
    return tools <= scope if tools else owner == user.id


def may_answer_task(user: User, api_key: ApiKey | None, task: dict) -> bool:
    """Answer a question the task's server asked (POST /tasks/{id}/input, or the MCP front door): the
    answer goes into that user's call, so only its owner, and only while they may still make the call."""
    if not user.is_active or task.get("user_id") != user.id or not has_role(user, "operator"):
        return False
    scope = scope_of(api_key)
    return scope is None or task_tool_ids(task) <= scope


def may_change_workflow(user: User, workflow_owner_id: int | None) -> bool:
    """Edit, delete or start a stored workflow: it runs as its owner, so only they (or an admin) may."""
    return user.is_active and has_role(user, "operator") and (
        workflow_owner_id == user.id or has_role(user, "admin"))


def workflow_tool_ids(definition) -> dict[str, int]:
    """{tool name: id} of every step, by the one rule that resolves a step's tool (the worker runs the
    same `validate_definition`). Raises WorkflowError (a ValueError) when the definition is not valid
    and UnknownTools when a step names no tool."""
    stages = validate_definition(definition)
    names = {step["tool"] for stage in stages for step in stage}
    found = {tool.name: tool.id for tool in Tool.select(Tool.id, Tool.name).where(Tool.name.in_(names))}
    missing = sorted(names - set(found))
    if missing:
        raise UnknownTools(missing)
    return found


def refused_workflow_tools(user: User | None, api_key: ApiKey | None, tool_ids: Iterable[int]) -> list[int]:
    """The tools of a workflow this caller may not call (all of them when the user may not run any)."""
    tool_ids = sorted(set(tool_ids))
    if user is None or not user.is_active or not has_role(user, "operator"):
        return tool_ids
    return [tool_id for tool_id in tool_ids if not in_scope(api_key, tool_id)]


# -- call history -------------------------------------------------------------------------------------

def may_open_session(user: User, session_owner_id: int) -> bool:
    return user.is_active and (session_owner_id == user.id or has_role(user, "admin"))


def may_see_message(api_key: ApiKey | None, message_tool_id: int | None) -> bool:
    """A message (one call: arguments and result) is visible to a key whose scope holds its tool."""
    return in_scope(api_key, message_tool_id)


# -- logs ---------------------------------------------------------------------------------------------

AUDIT_KIND = "operations"


def may_read_audit(user: User, api_key: ApiKey | None) -> bool:
    """The audit trail (operations entries: who did what, from where) is the admins'; a scoped key's
    admin reads only entries of its tools."""
    return user.is_active and has_role(user, "admin")


def may_see_log(user: User, api_key: ApiKey | None, kind: str, tool_id: int | None) -> bool:
    """A log entry (stored, or a live log line): a tool's entries to whoever may see the tool; platform
    entries (no tool) to every user but not to a key scoped to some tools; audit entries only to admins."""
    if kind == AUDIT_KIND and not may_read_audit(user, api_key):
        return False
    if tool_id is None:
        return user.is_active and has_role(user, "viewer") and scope_of(api_key) is None
    return may_see_tool(user, api_key, tool_id)


def may_delete_logs(user: User) -> bool:
    """Delete or clear log entries (never audit entries: no one may, through the API)."""
    return user.is_active and has_role(user, "admin")


# -- live events --------------------------------------------------------------------------------------

def may_see_alert(user: User, api_key: ApiKey | None, tool_id: int | None) -> bool:
    """An alert as it fires, resolves or is acknowledged (a live event): operators' and admins' business;
    one about a tool only for a key whose scope holds it, a platform one (host, queue) only unscoped."""
    if not user.is_active or not has_role(user, "operator"):
        return False
    return scope_of(api_key) is None if tool_id is None else in_scope(api_key, tool_id)


def may_see_proxy_session(user: User, session_owner_id: int | None) -> bool:
    """A front door session opening or closing (who, from which client): its owner's and the admins'."""
    return user.is_active and (session_owner_id == user.id or has_role(user, "admin"))
