"""Tasks: every job (lifecycle actions, calls, workflows, maintenance) with filters, live progress,
cancel, and a task's result or error. Read from GET /tasks and /tasks/{id}; progress comes from each
job's own event stream (/tasks/{id}/events, opened by static/js/pages/tasks.js)."""
from __future__ import annotations

from flask import render_template

from api.console import formats  # noqa: F401  (its template filters)
from api.console import rest
from api.console.blueprint import blp
from api.console.listing import PAGE_SIZE, current_page, filters_from_query
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.session_cookie import page
from jobs.job import CALL_KINDS, LIFECYCLE_KINDS, MAINTENANCE_KINDS, WORKFLOW_KIND
from models.tasks import TASK_STATUSES

FILTERS = ("status", "kind", "tool_id")
KINDS = (*LIFECYCLE_KINDS, *CALL_KINDS, "workflow", WORKFLOW_KIND, *MAINTENANCE_KINDS)
FINAL = ("succeeded", "failed", "cancelled")


def task_listing():
    filters = filters_from_query(FILTERS)
    listing = rest.get("/tasks", **filters, page=current_page(), page_size=PAGE_SIZE)
    tools = rest.get("/tools", page_size=100)["items"]
    return filters, listing, {tool["id"]: tool["name"] for tool in tools}


@blp.get("/tasks")
@page
def tasks():
    try:
        filters, listing, tool_names = task_listing()
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/tasks.html", "console.tasks", listing=listing, filters=filters,
                       tool_names=tool_names, statuses=TASK_STATUSES, kinds=KINDS, final=FINAL)


@blp.get("/tasks/_rows")
@page
def task_rows():
    """The table's rows alone: the page's script swaps them in when a task changes."""
    try:
        filters, listing, tool_names = task_listing()
    except RestError as error:
        return rest_error_page(error)
    return render_template("console/_task_rows.html", listing=listing, tool_names=tool_names, final=FINAL)


@blp.get("/tasks/<task_id>")
@page
def task(task_id: str):
    try:
        shown = rest.get(f"/tasks/{task_id}")
    except RestError as error:
        return rest_error_page(error)
    tool = None
    if shown.get("tool_id"):
        try:
            tool = rest.get(f"/tools/{shown['tool_id']}")
        except RestError:  # deleted since, or out of sight: the task still shows
            tool = None
    return render_page("console/task.html", "console.tasks", task=shown, tool=tool, final=FINAL)
