"""/api/v1/tasks: every job (lifecycle action, call) with its status, result and live events."""
from __future__ import annotations

import json

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_user, has_role, require_role
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.jobs import get_jobs
from api.pagination import page_schema, paginate
from api.tasks.schemas import TaskListArgs, TaskSchema, TaskStatusSchema
from api.tasks.views import task_view
from models import FINAL_STATUSES, Task
from workers import stream

blp = Blueprint("tasks", __name__, url_prefix="/tasks", description="Jobs: lifecycle actions and tool calls")
SSE_KEEPALIVE_MS = 15000


def visible_task(task_id: str) -> dict:
    view = task_view(task_id)
    if view is None:
        abort(404, message=f"no task {task_id}")
    user = current_user()
    if view.get("user_id") not in (None, user.id) and not has_role(user, "operator"):
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
        return paginate(query, args)


@blp.route("/<task_id>")
class TaskById(MethodView):
    @require_role("viewer")
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task: status, timings, result or error"""
        return visible_task(task_id)


@blp.route("/<task_id>/status")
class TaskStatus(MethodView):
    @require_role("viewer")
    @blp.response(200, TaskStatusSchema)
    def get(self, task_id):
        """A task's status"""
        return visible_task(task_id)


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
