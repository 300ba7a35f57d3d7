"""Calling tools: /tools/{tool}/call, resources and prompts, and the aggregated endpoints of the seed
(/mcp/unified/call, /mcp/http/tools + /mcp/http/call) that address `<tool>__<mcp tool>`.

Every request is a job on the tool owner's queue; by default the answer waits for the result."""
from __future__ import annotations

import time

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.bodies import Blueprint
from api.ids import Id
from api.auth import current_user, require_role, tool_in_scope
from api.errors import abort
from api.jobs import accepted, accepted_after_wait, call_budget, raise_for_failure, run_and_wait, wait_limit
from api.extensions import get_settings
from api.ratelimit import call_rate_limit
from api.waits import thread_lent_to
from api.tools.routes import find_tool
from api.tasks.schemas import AGGREGATED_NAME, ExecuteSchema
from api.tasks.workflows import checked_tools, start_run
from api.tools.schemas import CallArgs, CallSchema, CompleteSchema, GetPromptSchema, ReadResourceSchema
from api.schemas import Pattern
from models import Session, Tool
from jobs import ErrorType, Job, JobError, admission
from jobs.events import is_input_request

blp = Blueprint("calls", __name__, url_prefix="", description="Calling tools (MCP requests as jobs)")
SEPARATOR = "__"  # tool names are slugs (no underscores), so the first "__" splits unambiguously
# The worker answers by the job's deadline (a timeout is an answer too); the API waits this much longer
# for that answer to arrive, so that a timeout reads 504 and not "still running" (202).
REPLY_GRACE_S = 2.0
# Every call can answer 202: when no thread may be lent to wait (api.waits), or the wait runs out.
WAIT_RAN_OUT = "the wait ran out, or no thread could be lent to wait: the task to follow"
# Schema instances, not classes: webargs would build a new schema for every call otherwise.
CALL_ARGS, CALL_BODY = CallArgs(), CallSchema()
# What a call needs of its tool (not its JSON lists, read on every call otherwise).
CALL_FIELDS = (Tool.id, Tool.name, Tool.status, Tool.desired_state, Tool.auto_start, Tool.last_error)


def check_own_session(session_id: int | None) -> None:
    """404 unless the session is the caller's: calls are recorded in it."""
    if session_id is not None and not Session.select().where(
            (Session.id == session_id) & (Session.user_id == current_user().id)).exists():
        abort(404, message=f"no session {session_id}")


def run_request(tool: Tool, kind: str, job_args: dict, timeout: float | None, session_id: int | None = None,
                asynchronous: bool = False):
    """Send one MCP request to the tool's owner: the result (sync) or 202 + task id (async)."""
    try:
        admission.check_call(tool, running=admission.is_running(tool))
    except JobError as refused:
        abort(ErrorType.TOOL_NOT_RUNNING.http_status, message=str(refused), errors={"error_type": refused.error_type})
    user = current_user()
    check_own_session(session_id)
    if timeout is not None:
        timeout = min(timeout, get_settings().mcp.jobs.call_timeout_max_s)
        job_args = {**job_args, "timeout": timeout}
    # A sync call holds this thread until its answer: when this user (or everyone) already holds as many
    # as allowed, the call runs asynchronously instead and the answer is its task.
    with thread_lent_to(user.id) as may_wait:
        if asynchronous or not may_wait:
            return accepted(Job(kind=kind, tool_id=tool.id, args=job_args, user_id=user.id, session_id=session_id),
                            call_budget())
        wait_s = wait_limit(timeout)
        job = Job(kind=kind, tool_id=tool.id, args=job_args, user_id=user.id, session_id=session_id,
                  deadline=time.time() + wait_s)
        started = time.perf_counter()
        try:
            event = run_and_wait(job, wait_s + REPLY_GRACE_S, call_budget(), stop_at_input=True)
        except JobError:
            return accepted_after_wait(job)
    if is_input_request(event):  # the server asks something: answer at links.input, then follow the task
        return accepted_after_wait(job, "input_required", input_requests=[event])
    raise_for_failure(event, job.id)
    timings = {**event.get("timings", {}), "total_ms": round((time.perf_counter() - started) * 1000, 3)}
    return {**event["result"], "task_id": job.id, "timings": timings}, 200


@blp.route("/tools/<tool_ref>/call")
class CallTool(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(CALL_ARGS, location="query")
    @blp.arguments(CALL_BODY)
    @blp.response(200)
    @blp.alt_response(202, description="async=true, or the wait ran out: the task to follow")
    def post(self, args, body, tool_ref):
        """Call an MCP tool of this server: the MCP result (content, structuredContent, isError) with timings"""
        tool = find_tool(tool_ref, CALL_FIELDS)
        return run_request(tool, "call", {"tool": body["tool"], "arguments": body["arguments"]},
                           body.get("timeout"), body.get("session_id"), args["async_"])


@blp.route("/tools/<tool_ref>/resources")
class ListResources(MethodView):
    @call_rate_limit
    @require_role("viewer")
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def get(self, tool_ref):
        """List the server's resources (live)"""
        return run_request(find_tool(tool_ref, CALL_FIELDS), "list_resources", {}, None)


@blp.route("/tools/<tool_ref>/resources/templates")
class ListResourceTemplates(MethodView):
    @call_rate_limit
    @require_role("viewer")
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def get(self, tool_ref):
        """List the server's resource templates (live)"""
        return run_request(find_tool(tool_ref, CALL_FIELDS), "list_resource_templates", {}, None)


@blp.route("/tools/<tool_ref>/resources/read")
class ReadResource(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(ReadResourceSchema)
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def post(self, body, tool_ref):
        """Read one resource by URI"""
        return run_request(find_tool(tool_ref, CALL_FIELDS), "read_resource", {"uri": body["uri"]}, body.get("timeout"))


@blp.route("/tools/<tool_ref>/prompts")
class ListPrompts(MethodView):
    @call_rate_limit
    @require_role("viewer")
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def get(self, tool_ref):
        """List the server's prompts (live)"""
        return run_request(find_tool(tool_ref, CALL_FIELDS), "list_prompts", {}, None)


@blp.route("/tools/<tool_ref>/prompts/get")
class GetPrompt(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(GetPromptSchema)
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def post(self, body, tool_ref):
        """Get one prompt with its arguments filled in"""
        return run_request(find_tool(tool_ref, CALL_FIELDS), "get_prompt",
                           {"name": body["name"], "arguments": body["arguments"]}, body.get("timeout"))


@blp.route("/tools/<tool_ref>/complete")
class Complete(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(CompleteSchema)
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def post(self, body, tool_ref):
        """Complete an argument of a prompt or resource template (MCP completion/complete): the server's values"""
        args = {"ref": body["ref"], "argument": body["argument"]}
        if "context" in body:
            args["context"] = body["context"]
        return run_request(find_tool(tool_ref, CALL_FIELDS), "complete", args, body.get("timeout"))


# -- the aggregated view: every running tool's MCP tools under one namespace ------------------------

def aggregated_tools() -> list[dict]:
    items = []
    for tool in Tool.select().where(Tool.status == "RUNNING").order_by(Tool.name):
        if not tool_in_scope(tool.id):
            continue
        for mcp_tool in tool.mcp_tools or []:
            items.append({**mcp_tool, "name": f"{tool.name}{SEPARATOR}{mcp_tool['name']}",
                          "server": tool.name, "tool": mcp_tool["name"]})
    return items


class UnifiedCallSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=3, max=300),
                                                  Pattern(AGGREGATED_NAME, error="must be <tool>__<mcp tool>")],
                         metadata={"description": "`<tool>__<mcp tool>`, as listed by /mcp/http/tools"})
    arguments = fields.Dict(load_default=dict)
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600))
    session_id = Id()


UNIFIED_CALL_BODY = UnifiedCallSchema()


def unified_call(args: dict, body: dict):
    server, sep, mcp_tool = body["name"].partition(SEPARATOR)
    if not sep or not mcp_tool:
        abort(422, message=f"name must be <tool>{SEPARATOR}<mcp tool>", errors={"name": ["not an aggregated name"]})
    tool = find_tool(server, CALL_FIELDS)
    return run_request(tool, "call", {"tool": mcp_tool, "arguments": body["arguments"]}, body.get("timeout"),
                       body.get("session_id"), args["async_"])


@blp.route("/mcp/http/tools")
class HttpTools(MethodView):
    @require_role("viewer")
    @blp.response(200)
    def get(self):
        """Every MCP tool of every running tool, named `<tool>__<mcp tool>`"""
        return {"tools": aggregated_tools()}


@blp.route("/mcp/http/call")
class HttpCall(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(CALL_ARGS, location="query")
    @blp.arguments(UNIFIED_CALL_BODY)
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def post(self, args, body):
        """Call `<tool>__<mcp tool>` (plain-HTTP clients)"""
        return unified_call(args, body)


@blp.route("/mcp/unified/call")
class UnifiedCall(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(CALL_ARGS, location="query")
    @blp.arguments(UNIFIED_CALL_BODY)
    @blp.response(200)
    @blp.alt_response(202, description=WAIT_RAN_OUT)
    def post(self, args, body):
        """Call `<tool>__<mcp tool>` through the aggregated namespace"""
        return unified_call(args, body)


# -- agents: what they may call, and ad-hoc workflows --------------------------------------------------

@blp.route("/mcp/agent/tools")
class AgentTools(MethodView):
    @require_role("viewer")
    @blp.response(200)
    def get(self):
        """What an agent may call: every MCP tool of the running tools (name, description, input schema)"""
        return {"tools": [{"name": t["name"], "description": t.get("description", ""),
                           "inputSchema": t.get("inputSchema", {}), "server": t["server"]}
                          for t in aggregated_tools()]}


@blp.route("/mcp/agent/execute")
class AgentExecute(MethodView):
    @call_rate_limit
    @require_role("operator")
    @blp.arguments(CALL_ARGS, location="query")
    @blp.arguments(ExecuteSchema)
    @blp.response(200)
    @blp.alt_response(202, description="async=true: follow the run at /tasks/{id}/events")
    def post(self, args, body):
        """Run steps now (a workflow run): ordered steps, parallel groups, ${step.path} references"""
        definition = {"steps": body["steps"]}
        check_own_session(body.get("session_id"))
        return start_run(definition, checked_tools(definition), current_user().id, None, body.get("session_id"),
                         not args["async_"], body.get("timeout"))
