"""Workflows over HTTP: validating definitions, starting runs (jobs of kind workflow_run), their status."""
from __future__ import annotations

import time

from flask import jsonify

from api.auth import authenticate
from api.errors import abort
from api.extensions import get_settings
from api.jobs import accepted, accepted_after_wait, get_jobs, wait_limit
from api.tasks.schemas import TaskSchema
from api.tasks.views import task_view
from api.waits import thread_lent_to
from jobs import WORKFLOW_KIND, Job, JobError
from models import Task
from policy import access as policy
from jobs.workflow import WorkflowError


def checked_tools(definition: dict) -> dict[str, int]:
    """{tool name: id} of the steps; 422 unless every step is well formed and names a tool this request
    may call (a tool outside an API key's scope reads as no tool at all, as everywhere else)."""
    caller = authenticate()
    try:
        tool_ids = policy.workflow_tool_ids(definition)
        refused = policy.refused_workflow_tools(caller.user, caller.api_key, tool_ids.values())
        if refused:
            raise policy.UnknownTools(sorted(name for name, tool_id in tool_ids.items() if tool_id in refused))
    except (WorkflowError, policy.UnknownTools) as error:
        abort(422, message=f"the workflow is not valid: {error}", errors={"definition": [str(error)]})
    return tool_ids


def start_run(definition: dict, tool_ids: dict[str, int], user_id: int, parent_id: str | None,
              session_id: int | None, wait: bool, timeout: float | None):
    """Run a workflow as a job: 202 + task id, or (wait) the finished run. `tool_ids` are the tools
    checked by `checked_tools`: the worker runs those, whatever they are called by then."""
    wait_s = wait_limit(timeout)
    job = Job(kind=WORKFLOW_KIND, user_id=user_id, session_id=session_id, parent_id=parent_id,
              args={"definition": definition, "tool_ids": tool_ids}, deadline=time.time() + (timeout or get_settings().mcp.jobs.wait_max_s))
    # A row first, even when waiting: the workflow's status finds its runs by it.
    reply = accepted(job)
    with thread_lent_to(user_id) as may_wait:
        if not (wait and may_wait):
            return reply
        try:
            event = get_jobs().wait(job.id, wait_s)
        except JobError:
            return accepted_after_wait(job)
    # A Response: @blp.response would dump the run with the 202's schema.
    return jsonify(TaskSchema().dump(task_view(job.id, event, job))), 200


def latest_run(workflow_id: str) -> Task | None:
    return (Task.select().where((Task.parent_id == workflow_id) & (Task.kind == WORKFLOW_KIND))
            .order_by(Task.created_at.desc()).first())


def run_status(view: dict) -> dict:
    """Status of a run (or of a workflow: its latest run) with one line per step."""
    if view.get("kind") == "workflow":
        run = latest_run(view["id"])
        if run is None:
            return {**view, "run_id": None, "steps": []}
        view = {**(task_view(run.id) or {}), "kind": "workflow", "id": view["id"]}
        run_id = run.id
    else:
        run_id = view["id"]
    steps = (view.get("result") or {}).get("steps") if isinstance(view.get("result"), dict) else None
    if steps is None:  # still running: the step jobs written so far
        steps = [{"id": child.args.get("tool", "") if child.args else "", "tool": str(child.tool_id),
                  "call": (child.args or {}).get("tool", ""), "task_id": child.id, "status": child.status,
                  "is_error": bool((child.result or {}).get("isError")), "error": child.error}
                 for child in Task.select().where(Task.parent_id == run_id).order_by(Task.created_at)]
    return {**view, "run_id": run_id, "steps": steps}
