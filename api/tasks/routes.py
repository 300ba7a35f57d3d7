"""/api/v1/tasks: every job (lifecycle action, call) with its status, result and live events."""
from __future__ import annotations

import json

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_api_key, current_user, has_role, require_role
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.jobs import get_jobs
from api.pagination import page_schema, paginate
from api.tasks.schemas import (AcceptedSchema, RunStatusSchema, TaskListArgs, TaskSchema, WorkflowCreateSchema,
                               WorkflowWriteSchema)
from api.tasks.views import task_view
from api.tasks.workflows import checked_definition, latest_run, run_status, start_run
from api.tools.schemas import WaitArgs
from models import FINAL_STATUSES, Task, Tool, new_id
from jobs import WORKFLOW_KIND
from jobs import stream

blp = Blueprint("tasks", __name__, url_prefix="/tasks", description="Jobs: lifecycle actions and tool calls")
SSE_KEEPALIVE_MS = 15000


def tool_ids_in_scope() -> list[int] | None:
    """The ids of the tools this request's API key may use; None when it may use all (or is a JWT)."""
    api_key = current_api_key()
    if api_key is None or api_key.tool_scope is None:
        return None
    return [tool.id for tool in Tool.select(Tool.id).where(Tool.name.in_(api_key.tool_scope))]


def visible_task(task_id: str) -> dict:
    view = task_view(task_id)
    if view is None:
        abort(404, message=f"no task {task_id}")
    user = current_user()
    if view.get("user_id") not in (None, user.id) and not has_role(user, "operator"):
        abort(404, message=f"no task {task_id}")
    scope = tool_ids_in_scope()
    if scope is not None and view.get("tool_id") is not None and view["tool_id"] not in scope:
        abort(404, message=f"no task {task_id}")
    return view


@blp.route("")
class Tasks(MethodView):
    @require_role("viewer")
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, page_schema(TaskSchema))
    def get(self, args):
        """List tasks, newest first (viewers see their own)"""
        query = Task.select().order_by(Task.created_at.desc(), Task.id)
        for field in ("status", "kind", "tool_id", "parent_id"):
            if field in args:
                query = query.where(getattr(Task, field) == args[field])
        user = current_user()
        if args.get("mine") or not has_role(user, "operator"):
            query = query.where(Task.user_id == user.id)
        scope = tool_ids_in_scope()
        if scope is not None:  # an API key sees the tasks of its tools, and its user's tool-less ones
            query = query.where(Task.tool_id.in_(scope) | (Task.tool_id.is_null() & (Task.user_id == user.id)))
        return paginate(query, args)

    @require_role("operator")
    @blp.arguments(WorkflowCreateSchema)
    @blp.response(201, TaskSchema)
    def post(self, body):
        """Store a workflow: ordered steps and parallel groups of tool calls (start it with /start)"""
        return Task.create(id=new_id(), kind="workflow", status="created", name=body["name"],
                           definition=checked_definition(body["definition"]), schedule=body.get("schedule"),
                           user_id=current_user().id)


@blp.route("/<task_id>")
class TaskById(MethodView):
    @require_role("viewer")
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task: status, timings, result or error"""
        return visible_task(task_id)

    @require_role("operator")
    @blp.arguments(WorkflowWriteSchema)
    @blp.response(200, TaskSchema)
    def put(self, body, task_id):
        """Change a stored workflow (name, definition, schedule)"""
        task = stored_workflow(task_id)
        if "definition" in body:
            checked_definition(body["definition"])
        for field, value in body.items():
            setattr(task, field, value)
        task.save()
        return task

    @require_role("operator")
    @blp.response(204)
    def delete(self, task_id):
        """Delete a stored workflow, or the record of a finished job"""
        view = visible_task(task_id)
        if view["status"] in ("queued", "running"):
            abort(409, message=f"task {task_id} is {view['status']}: cancel it first")
        Task.delete().where(Task.id == task_id).execute()


@blp.route("/<task_id>/status")
class TaskStatus(MethodView):
    @require_role("viewer")
    @blp.response(200, RunStatusSchema)
    def get(self, task_id):
        """A task's status; for a workflow (its latest run) or a run, each step's status"""
        view = visible_task(task_id)
        if view.get("kind") in ("workflow", WORKFLOW_KIND):
            return run_status(view)
        return view


@blp.route("/<task_id>/start")
class StartTask(MethodView):
    @require_role("operator")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished run")
    def post(self, args, task_id):
        """Run a stored workflow (a job of kind workflow_run; its steps are jobs too)"""
        task = stored_workflow(task_id)
        return start_run(checked_definition(task.definition), current_user().id, task.id, None, args["wait"],
                         args.get("timeout"))


@blp.route("/<task_id>/stop")
class StopTask(MethodView):
    @require_role("operator")
    @blp.response(202, TaskSchema)
    def post(self, task_id):
        """Stop a job, or every running run of a workflow (their steps are cancelled)"""
        view = visible_task(task_id)
        if view.get("kind") == "workflow":
            runs = Task.select().where((Task.parent_id == task_id) & Task.status.in_(("queued", "running")))
            running = [run.id for run in runs]
            if not running and (latest := latest_run(task_id)) is not None and latest.status not in FINAL_STATUSES:
                running = [latest.id]
            for run_id in running:
                get_jobs().cancel(run_id)
            return view
        if view["status"] in FINAL_STATUSES:
            abort(409, message=f"task {task_id} is already {view['status']}")
        get_jobs().cancel(task_id)
        return view


def stored_workflow(task_id: str) -> Task:
    view = visible_task(task_id)
    if view.get("kind") != "workflow":
        abort(409, message=f"task {task_id} is a {view.get('kind')} job, not a stored workflow")
    return Task.get_by_id(task_id)


@blp.route("/<task_id>/cancel")
class CancelTask(MethodView):
    @require_role("operator")
    @blp.response(202, TaskSchema)
    def post(self, task_id):
        """Cancel a queued or running job (the MCP server is sent notifications/cancelled)"""
        view = visible_task(task_id)
        if view["status"] in FINAL_STATUSES:
            abort(409, message=f"task {task_id} is already {view['status']}")
        get_jobs().cancel(task_id)
        return view


@blp.route("/<task_id>/events")
@require_role("viewer")
def task_events(task_id):
    """Server-sent events of a job: progress, log messages, then its result (the stream ends there)"""
    view = visible_task(task_id)
    client, settings = get_redis(), get_settings()
    if view["status"] in FINAL_STATUSES and stream.final_event(client, settings, task_id) is None:
        # The stream is gone (result_ttl_s) but the row keeps the outcome: replay that, not wait forever.
        replay = iter([("0-0", {"type": stream.FINAL_EVENT, "status": view["status"], "result": view.get("result"),
                                "error": view.get("error"), "error_type": view.get("error_type"),
                                "worker": view.get("worker_id")})])
    else:
        replay = stream.follow(client, settings, task_id, block_ms=SSE_KEEPALIVE_MS)

    def events():
        for entry_id, event in replay:
            if event is None:
                yield ": keep-alive\n\n"
                continue
            yield f"id: {entry_id}\nevent: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
