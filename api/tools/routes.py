"""/api/v1/tools: the registry (CRUD, import/export), lifecycle as jobs, live status and logs."""
from __future__ import annotations

import json
import logging

from flask import jsonify
from flask.views import MethodView
from marshmallow import ValidationError

from api.bodies import Blueprint
from api.auth import current_user, has_role, require_role, tool_in_scope
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.ids import parse_id
from api.jobs import (accepted, accepted_after_wait, enqueue_recorded, get_jobs, raise_for_failure, run_and_wait,
                      wait_limit)
from api.pagination import page_schema, paginate
from api.ratelimit import poll_rate_limit
from api.tasks.schemas import AcceptedSchema, TaskSchema
from api.tasks.views import task_view
from api.waits import thread_lent_to
from api.tools import mcpservers
from api.tools.schemas import (ExportArgs, ImportArgs, LogArgs, LogEntrySchema, McpServersSchema, ToolCreateSchema,
                               ToolDefinitionSchema, ToolListArgs, ToolSchema, WaitArgs, check_transport_fields)
from models import LogEntry, Tool, db, utcnow
from models.proxy import forget_tool_in_virtual_servers
from models.fastget import get_by
from jobs import Job, JobError
from jobs.keys import health_key, live_key
from policy import access as policy

blp = Blueprint("tools", __name__, url_prefix="/tools", description="MCP servers managed by the platform")
log = logging.getLogger("mcps.api.tools")

# Changing these is defining what code runs (or where requests go): admins only.
EXECUTION_FIELDS = ("transport", "command", "args", "env", "cwd", "url", "headers")
# Limits, timeouts and the restart policy bound what a tool may cost the platform: admins set them.
ADMIN_FIELDS = EXECUTION_FIELDS + ("memory_limit_mb", "cpu_limit_percent", "call_timeout_s", "restart_on_failure",
                                   "max_restart_attempts")


def find_tool(tool_ref: str, only: tuple | None = None) -> Tool:
    """A tool by id or by name (just the columns `only`, when given); 404 when missing, and 404 too
    when the API key may not see it."""
    tool_id = parse_id(tool_ref)  # "²", "１" or a number past 64 bits are no id: read as (unknown) names
    if tool_id is not None:
        tool = get_by(Tool, Tool.id, tool_id, only)
    else:
        tool = get_by(Tool, Tool.name, tool_ref, only)
    if tool is None or not tool_in_scope(tool.id):
        abort(404, message=f"no tool {tool_ref}")
    return tool


@blp.route("")
class Tools(MethodView):
    @require_role("viewer")
    @blp.arguments(ToolListArgs, location="query")
    @blp.response(200, page_schema(ToolSchema))
    def get(self, args):
        """List tools"""
        query = Tool.select().order_by(Tool.id)
        for field in ("status", "transport", "category"):
            if field in args:
                query = query.where(getattr(Tool, field) == args[field])
        if "q" in args:
            query = query.where(Tool.name.contains(args["q"]) | Tool.display_name.contains(args["q"])
                                | Tool.description.contains(args["q"]))
        # Tags are matched here, not in SQL: a JSONField would encode the LIKE pattern as JSON.
        tools = [tool for tool in query
                 if tool_in_scope(tool.id) and ("tag" not in args or args["tag"] in (tool.tags or []))]
        return paginate(tools, args)

    @require_role("admin")
    @blp.arguments(ToolCreateSchema)
    @blp.response(201, ToolSchema)
    @blp.alt_response(409, "CONFLICT")
    def post(self, body):
        """Register a tool (admins: a stdio tool runs a command on the workers)"""
        if Tool.select().where(Tool.name == body["name"]).exists():
            abort(409, message=f"a tool named {body['name']} exists")
        tool = Tool.create(created_by=current_user().id, **body)
        log.info("event=tool.created tool=%s transport=%s by=%s", tool.name, tool.transport, current_user().username)
        return tool


@blp.route("/available")
class AvailableTools(MethodView):
    @require_role("viewer")
    @blp.response(200)
    def get(self):
        """Running tools with the MCP tools, resources and prompts they offer"""
        running = Tool.select().where(Tool.status == "RUNNING").order_by(Tool.name)
        return {"items": [{"id": t.id, "name": t.name, "display_name": t.display_name, "tools": t.mcp_tools,
                           "resources": t.mcp_resources, "prompts": t.mcp_prompts}
                          for t in running if tool_in_scope(t.id)]}


@blp.route("/export")
class ExportTools(MethodView):
    @require_role("admin")
    @blp.arguments(ExportArgs, location="query")
    @blp.response(200, McpServersSchema)
    def get(self, args):
        """Export every tool as an `mcpServers` document (Claude Desktop / Cursor format)"""
        tools = [tool for tool in Tool.select().order_by(Tool.name) if tool_in_scope(tool.id)]
        return mcpservers.export_tools(tools, args["include_secrets"])


@blp.route("/import")
class ImportTools(MethodView):
    @require_role("admin")
    @blp.arguments(ImportArgs, location="query")
    @blp.arguments(McpServersSchema)
    @blp.response(200)
    def post(self, args, document):
        """Import an `mcpServers` document; existing names are skipped unless replace=true"""
        try:
            definitions = mcpservers.parse_document(document)
        except ValidationError as error:
            abort(422, message="the mcpServers document is not valid: see errors", errors=error.messages)
        return mcpservers.import_tools(definitions, args["replace"], current_user().id)


@blp.route("/<tool_ref>")
class ToolByRef(MethodView):
    @require_role("viewer")
    @blp.response(200, ToolSchema)
    def get(self, tool_ref):
        """One tool (by id or name)"""
        return find_tool(tool_ref)

    @require_role("operator")
    @blp.arguments(ToolDefinitionSchema)
    @blp.response(200, ToolSchema)
    def put(self, body, tool_ref):
        """Change a tool (admins only for what it runs, its limits, timeout and restart policy)"""
        tool = find_tool(tool_ref)
        admin_only = [field for field in ADMIN_FIELDS if field in body]
        if admin_only and not has_role(current_user(), "admin"):
            abort(403, message=f"only admins may change {', '.join(admin_only)}")
        touched = [field for field in EXECUTION_FIELDS if field in body]
        if "name" in body and body["name"] != tool.name and Tool.select().where(Tool.name == body["name"]).exists():
            abort(409, message=f"a tool named {body['name']} exists")
        merged = {field: getattr(tool, field) for field in EXECUTION_FIELDS} | {f: body[f] for f in touched}
        try:
            check_transport_fields(merged)
        except ValidationError as error:
            abort(422, message="the tool definition is not valid: see errors", errors=error.messages)
        for field in ("env", "headers"):  # a definition read back from GET carries masked secrets
            if field in body:
                body[field] = mcpservers.unmask(body[field], getattr(tool, field))
        for field, value in body.items():
            setattr(tool, field, value)
        tool.updated_at = utcnow()
        tool.save()
        return tool

    @require_role("admin")
    @blp.response(204)
    def delete(self, tool_ref):
        """Delete a tool (stopped first when running)"""
        tool = find_tool(tool_ref)
        # The owner lease, not the row: a row left RUNNING by a dead worker has no process to stop.
        if get_jobs().owner_of(tool.id) is not None:
            try:
                outcome = run_and_wait(Job(kind="stop", tool_id=tool.id, user_id=current_user().id), 30)
            except JobError as error:  # no worker took the stop: deleting now could orphan the process
                abort(503, message=f"could not stop the tool before deleting it: {error}",
                      headers={"Retry-After": "5"})
            if outcome.get("status") != "succeeded":
                abort(409, message=f"could not stop the tool before deleting it: {outcome.get('error')}")
        user = current_user()
        with db.atomic():
            Tool.delete().where(Tool.id == tool.id).execute()
            policy.forget_tool(tool.id)  # its id may be given to the next tool: no key may keep it
            forget_tool_in_virtual_servers(tool.id)  # nor a virtual server
            # Its log goes with it: SQLite hands a deleted highest id to the next tool created. The audit
            # trail stays, no longer pointing at the id (its entries name the tool in their target).
            LogEntry.update(tool_id=None).where((LogEntry.tool_id == tool.id) & (LogEntry.source == "audit")).execute()
            LogEntry.delete().where(LogEntry.tool_id == tool.id).execute()
            LogEntry.create(category="operations", level="INFO", user_id=user.id, source="api",
                            message=f"tool {tool.name} (id {tool.id}) deleted by {user.username}")
        log.info("event=tool.deleted tool=%s by=%s", tool.name, user.username)


def lifecycle(kind: str, tool_ref: str, args: dict):
    tool = find_tool(tool_ref)
    user = current_user()
    job = Job(kind=kind, tool_id=tool.id, user_id=user.id)
    LogEntry.create(category="operations", level="INFO", tool_id=tool.id, task_id=job.id, user_id=user.id,
                    source="api", message=f"{kind} requested by {user.username}")
    with thread_lent_to(user.id) as may_wait:
        if not (args["wait"] and may_wait):
            return accepted(job)
        task = enqueue_recorded(job)  # the row first: when the wait runs out, the 202's task can be read
        try:
            event = get_jobs().wait(job.id, wait_limit(args.get("timeout")), task.worker_id)
        except JobError:
            return accepted_after_wait(job)
    raise_for_failure(event, job.id)  # a start that failed is an error answer, as a failed call is
    # A Response: @blp.response would dump the task with AcceptedSchema, the 202's schema.
    return jsonify(TaskSchema().dump(task_view(job.id, event, job))), 200


@blp.route("/<tool_ref>/start")
class StartTool(MethodView):
    @require_role("operator")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task")
    def post(self, args, tool_ref):
        """Start a tool (a job: 202 + task id, or the outcome with wait=true)"""
        return lifecycle("start", tool_ref, args)


@blp.route("/<tool_ref>/stop")
class StopTool(MethodView):
    @require_role("operator")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task")
    def post(self, args, tool_ref):
        """Stop a tool"""
        return lifecycle("stop", tool_ref, args)


@blp.route("/<tool_ref>/restart")
class RestartTool(MethodView):
    @require_role("operator")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task")
    def post(self, args, tool_ref):
        """Restart a tool (a new process)"""
        return lifecycle("restart", tool_ref, args)


@blp.route("/<tool_ref>/status")
class ToolStatus(MethodView):
    @poll_rate_limit
    @require_role("viewer")
    @blp.response(200)
    def get(self, tool_ref):
        """Live status: pid, uptime, memory and CPU of the process tree, restarts, owner worker"""
        tool = find_tool(tool_ref)
        live = get_redis().get(live_key(get_settings(), tool.id))
        live = json.loads(live) if live else {}
        if live.get("pid") != tool.pid:  # the heartbeat's snapshot (up to a second old) is of another process
            live = {"worker": live.get("worker")}
        # State from the row (the worker writes it within milliseconds); process metrics from the heartbeat.
        return {"id": tool.id, "name": tool.name, "status": tool.status,
                "desired_state": tool.desired_state, "pid": tool.pid,
                "owner_worker": live.get("worker") or tool.owner_worker, "restart_count": tool.restart_count,
                "last_error": tool.last_error, "started_at": ToolSchema().dump(tool)["started_at"],
                "uptime_s": live.get("uptime_s"), "memory_mb": live.get("memory_mb"),
                "cpu_percent": live.get("cpu_percent"), "processes": live.get("processes"),
                "protocol_version": tool.protocol_version,
                "health": json.loads(get_redis().get(health_key(get_settings(), tool.id)) or "null")}


@blp.route("/<tool_ref>/capabilities")
class ToolCapabilities(MethodView):
    @require_role("viewer")
    @blp.response(200)
    def get(self, tool_ref):
        """What the server said about itself: info, capabilities, and its tools, resources and prompts"""
        tool = find_tool(tool_ref)
        return {"id": tool.id, "name": tool.name, "protocol_version": tool.protocol_version,
                "server_info": tool.server_info, "capabilities": tool.capabilities,
                "instructions": tool.instructions, "tools": tool.mcp_tools, "resources": tool.mcp_resources,
                "prompts": tool.mcp_prompts}


@blp.route("/<tool_ref>/logs")
class ToolLogs(MethodView):
    @require_role("viewer")
    @blp.arguments(LogArgs, location="query")
    @blp.response(200, page_schema(LogEntrySchema))
    def get(self, args, tool_ref):
        """The tool's stderr and lifecycle events (paginated, oldest first; `tail` for the last lines)"""
        tool = find_tool(tool_ref)
        # The audit trail of writes to the tool is read at /logs/operations (admins), not here.
        query = LogEntry.select().where((LogEntry.tool_id == tool.id) & (LogEntry.source != "audit"))
        if "source" in args:
            query = query.where(LogEntry.source == args["source"])
        if "level" in args:
            query = query.where(LogEntry.level == args["level"])
        if "tail" in args:
            rows = list(query.order_by(LogEntry.id.desc()).limit(args["tail"]))[::-1]
            return paginate(rows, {**args, "page": 1, "page_size": max(len(rows), 1)})
        return paginate(query.order_by(LogEntry.id), args)
