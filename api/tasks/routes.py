"""/api/v1/tasks: every job (lifecycle action, call) with its status, result and live events."""
from __future__ import annotations

import json

from flask import Response, stream_with_context, url_for
from flask.views import MethodView

from api.bodies import Blueprint
from api.auth import authenticate, current_api_key, current_user, has_role, require_role, tool_ids_in_scope
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.jobs import get_jobs
from api.pagination import page_schema, paginate
from api.ratelimit import poll_rate_limit
from api.tasks.schemas import (AcceptedSchema, InputAnswerSchema, RunStatusSchema, TaskListArgs, TaskSchema,
                               WorkflowCreateSchema, WorkflowWriteSchema)
from api.tasks.views import task_view
from api.tasks.workflows import checked_tools, latest_run, run_status, start_run
from api.tools.schemas import WaitArgs
from api.waits import waiting_threads
from jobs import WORKFLOW_KIND, input_requests, stream
from models import FINAL_STATUSES, Task, new_id
from policy import access as policy

blp = Blueprint("tasks", __name__, url_prefix="/tasks", description="Jobs: lifecycle actions and tool calls")
SSE_KEEPALIVE_MS = 15000


def visible_task(task_id: str) -> dict:
    """The task (row, or its in-flight view) when this request may see it; 404 otherwise."""
    view = task_view(task_id)
    caller = authenticate()
    if view is None or not policy.may_see_task(caller.user, caller.api_key, view):
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
        if scope is not None:  # an API key sees the tasks of its tools, and its user's tool-less ones...
            query = query.where(Task.tool_id.in_(scope) | (Task.tool_id.is_null() & (Task.user_id == user.id)))
            # ...of which workflows only when all their steps' tools are in scope (policy.may_see_task)
            api_key = current_api_key()
            tasks = [task for task in query if task.tool_id is not None
                     or policy.may_see_task(user, api_key, task.__data__)]
            return paginate(tasks, args)
        return paginate(query, args)

    @require_role("operator")
    @blp.arguments(WorkflowCreateSchema)
    @blp.response(201, TaskSchema)
    def post(self, body):
        """Store a workflow: ordered steps and parallel groups of tool calls (start it with /start)"""
        checked_tools(body["definition"])
        return Task.create(id=new_id(), kind="workflow", status="created", name=body["name"],
                           definition=body["definition"], schedule=body.get("schedule"), user_id=current_user().id)


@blp.route("/<task_id>")
class TaskById(MethodView):
    @poll_rate_limit
    @require_role("viewer")
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task: status, timings, result or error"""
        return visible_task(task_id)

    @require_role("operator")
    @blp.arguments(WorkflowWriteSchema)
    @blp.response(200, TaskSchema)
    def put(self, body, task_id):
        """Change a stored workflow (name, definition, schedule): its owner, or an admin"""
        task = owned_workflow(task_id)
        checked_tools(body.get("definition", task.definition))
        for field, value in body.items():
            setattr(task, field, value)
        task.save()
        return task

    @require_role("operator")
    @blp.response(204)
    def delete(self, task_id):
        """Delete a stored workflow (its owner, or an admin), or the record of a finished job"""
        view = visible_task(task_id)
        if view.get("kind") == "workflow":
            owned_workflow(task_id)
        if view["status"] in ("queued", "running"):
            abort(409, message=f"task {task_id} is {view['status']}: cancel it first")
        Task.delete().where(Task.id == task_id).execute()


@blp.route("/<task_id>/status")
class TaskStatus(MethodView):
    @poll_rate_limit
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
        # It runs as the caller, with the caller's rights now (not those of whoever stored it).
        return start_run(task.definition, checked_tools(task.definition), current_user().id, task.id, None,
                         args["wait"], args.get("timeout"))


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


def owned_workflow(task_id: str) -> Task:
    """A stored workflow the caller may change: its runs act as its owner, so only they or an admin."""
    task = stored_workflow(task_id)
    if not policy.may_change_workflow(current_user(), task.user_id):
        abort(403, message=f"workflow {task_id} belongs to another user: only they or an admin may change it")
    return task


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


@blp.route("/<task_id>/input")
class TaskInput(MethodView):
    @require_role("operator")
    @blp.arguments(InputAnswerSchema)
    @blp.response(202, AcceptedSchema)
    def post(self, body, task_id):
        """Answer a question the task's MCP server asked its client (elicitation, sampling, roots): the
        request_id of its input_request event, and the MCP result (or a JSON-RPC error). The task's owner only."""
        view = visible_task(task_id)
        caller = authenticate()
        if not policy.may_answer_task(caller.user, caller.api_key, view):
            abort(403, message=f"only the owner of task {task_id} may answer its questions")
        question = input_requests.pending(get_redis(), get_settings(), task_id).get(body["request_id"])
        if question is None:
            abort(409, message=f"task {task_id} has no question {body['request_id']} waiting (answered already, "
                               "timed out, or never asked)", errors={"error_type": "not_pending"})
        answer = {name: body[name] for name in ("result", "error") if name in body}
        try:
            input_requests.parse_answer(question["method"], answer)
        except input_requests.InvalidAnswer as error:
            abort(422, message=f"not an answer to {question['method']}: {error}", errors={"answer": [str(error)]})
        if not input_requests.answer(get_redis(), get_settings(), task_id, body["request_id"], answer):
            abort(409, message=f"question {body['request_id']} was answered or timed out meanwhile",
                  errors={"error_type": "not_pending"})
        return {"task_id": task_id, "status": "running",
                "links": {"self": url_for("tasks.TaskById", task_id=task_id),
                          "events": url_for("tasks.task_events", task_id=task_id)}}


@blp.route("/<task_id>/events")
@poll_rate_limit
@require_role("viewer")
def task_events(task_id):
    """Server-sent events of a job: progress, log messages, then its result (the stream ends there)"""
    view = visible_task(task_id)
    client, settings = get_redis(), get_settings()
    waits, waiter = waiting_threads(), f"user:{current_user().id}"
    if not waits.take(waiter, settings.mcp.jobs.event_streams_per_user):
        abort(429, message=f"too many open event streams (at most {settings.mcp.jobs.event_streams_per_user} "
                           "per user, and the server keeps threads for other requests); close one or poll the task",
              errors={"error_type": "rate_limited"}, headers={"Retry-After": "5"})
    if view["status"] in FINAL_STATUSES and stream.final_event(client, settings, task_id) is None:
        # The stream is gone (result_ttl_s) but the row keeps the outcome: replay that, not wait forever.
        replay = iter([("0-0", {"type": stream.FINAL_EVENT, "status": view["status"], "result": view.get("result"),
                                "error": view.get("error"), "error_type": view.get("error_type"),
                                "worker": view.get("worker_id")})])
    else:
        replay = stream.follow(client, settings, task_id, block_ms=SSE_KEEPALIVE_MS)

    def events():
        yield ": stream open\n\n"  # sends the headers now: a quiet job would otherwise hold them 15 s
        for entry_id, event in replay:
            if event is None:
                yield ": keep-alive\n\n"
                continue
            yield f"id: {entry_id}\nevent: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"

    response = Response(stream_with_context(events()), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: waits.give_back(waiter))  # also when the client goes away
    return response
