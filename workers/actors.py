"""The actor every job runs through: `run_job(job)`, dispatched on the job's kind.

The reply (the job's `result` event on its stream) is written first; the task row and the call
history are handed to the bookkeeper after it, so the caller never waits for the database.
"""
from __future__ import annotations

import asyncio
import logging
import time

from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND

from models import Tool, utcnow
from workers import stream
from workers.history import JobRecord
from workers.jobs import ACTOR, CALL_KINDS, LIFECYCLE_KINDS, LIFECYCLE_QUEUE, WORKFLOW_KIND, Job, JobError
from workers.registry import worker_queue
from workers.tool_session import ToolNotRunning, ToolSession
from workers.workflows import StepFailed, WorkflowError, run_workflow, validate_definition

log = logging.getLogger("mcps.jobs")
# A message this much older than its submission may have been cancelled while queued: ask Redis.
CANCEL_CHECK_AGE_S = 0.05

runtime = None  # the WorkerRuntime of this process, set by workers.main at worker boot


class Forwarded(Exception):
    """The job went on to the worker that owns its tool; that worker answers."""


def run_job(job_data: dict) -> None:
    job = Job.from_dict(job_data)
    if job.kind == "cancel":
        runtime.cancel_local(job.args["job_id"])
        return
    started = time.time()
    try:
        if job.deadline is not None and started > job.deadline:
            raise JobError("the job's deadline passed before a worker could start it", "deadline_exceeded")
        if runtime.is_cancelled(job.id, check_redis=started - job.submitted_at > CANCEL_CHECK_AGE_S):
            raise JobError("cancelled before it started", "cancelled")
        if job.kind in CALL_KINDS:
            session = _session_for(job)
            # The call runs and answers on the MCP loop; this thread is free at once.
            runtime.loop.call_soon_threadsafe(_start_call, job, job_data, session, started)
            return
        if job.kind in LIFECYCLE_KINDS:
            result = lifecycle(job)
        elif job.kind == WORKFLOW_KIND:
            result = workflow(job)
        elif job.kind == "ping":
            result = {"pong": True, "worker": runtime.id}
        else:
            raise JobError(f"unknown job kind {job.kind}", "bad_request")
        event = {"type": stream.FINAL_EVENT, "status": "succeeded", "result": result}
    except Forwarded:
        return
    except StepFailed as exc:
        event = {**_failure(exc.error_type, str(exc)), "result": {"steps": exc.steps}}
    except (JobError, WorkflowError) as exc:
        event = _failure(getattr(exc, "error_type", "bad_request"), str(exc))
    except Exception as exc:  # a bug must still answer the caller, who is waiting
        log.exception("event=job.crashed job=%s kind=%s", job.id, job.kind)
        event = _failure("internal", f"{type(exc).__name__}: {exc}")
    _finish(job, event, started)
    stream.publish_now(runtime.redis, runtime.settings, job.id, event)
    _record(job, job_data, event, started)


def _finish(job: Job, event: dict, started: float) -> None:
    event["timings"] = {"queued_ms": round((started - job.submitted_at) * 1000, 3),
                        "run_ms": round((time.time() - started) * 1000, 3)}
    event["worker"] = runtime.id
    # Who and what, so that the result alone can be authorised before the task row is written.
    event["job"] = {"kind": job.kind, "tool_id": job.tool_id, "user_id": job.user_id, "parent_id": job.parent_id,
                    "session_id": job.session_id, "args": job.args, "submitted_at": job.submitted_at}


# MCP error codes that say something about the request rather than the server.
_MCP_ERROR_TYPES = {CONNECTION_CLOSED: "connection_lost", METHOD_NOT_FOUND: "method_not_found",
                    INVALID_PARAMS: "invalid_params"}


def _mcp_failure(exc: MCPError) -> dict:
    error_type = _MCP_ERROR_TYPES.get(exc.code, "server_error")
    if error_type == "connection_lost":
        message = "the connection to the MCP server was lost during the call (it is being restarted)"
    else:
        message = f"the MCP server answered with error {exc.code}: {exc}"
    return {**_failure(error_type, message), "mcp_error_code": exc.code}


def _record(job: Job, job_data: dict, event: dict, started: float) -> None:
    if job.record:
        runtime.bookkeeper.record(JobRecord(job_data, event, runtime.id, started, time.time()))


def _failure(error_type: str, message: str) -> dict:
    status = "cancelled" if error_type == "cancelled" else "failed"
    return {"type": stream.FINAL_EVENT, "status": status, "error_type": error_type, "error": message}


# -- calls (on the MCP loop) ------------------------------------------------------------------------

def dispatch_on_loop(message) -> bool:
    """The consumer's shortcut (workers.broker._DirectConsumer): a fresh call to a tool running here
    goes straight to the MCP loop, as run_job would send it. Anything else (another kind, a tool to
    start or forward, a deadline passed, a job old enough to have been cancelled) is declined and
    takes the usual way through a Dramatiq worker thread."""
    job_data = message.args[0] if message.actor_name == ACTOR and message.args else None
    if not isinstance(job_data, dict) or job_data.get("kind") not in CALL_KINDS:
        return False
    session = runtime.sessions.get(job_data.get("tool_id"))
    started = time.time()
    if (session is None or session.client is None or started - job_data["submitted_at"] > CANCEL_CHECK_AGE_S
            or (job_data.get("deadline") is not None and started > job_data["deadline"])
            or job_data["id"] in runtime.cancelled):
        return False
    runtime.loop.call_soon_threadsafe(_start_call, Job.from_dict(job_data), job_data, session, started)
    return True


def _start_call(job: Job, job_data: dict, session: ToolSession, started: float) -> None:
    runtime.running_jobs[job.id] = runtime.loop.create_task(_serve_call(job, job_data, session, started))


async def _serve_call(job: Job, job_data: dict, session: ToolSession, started: float) -> None:
    timeout = min(float(job.args.get("timeout") or session.tool["call_timeout_s"]), session.tool["call_timeout_s"])
    if job.deadline is not None:
        timeout = min(timeout, max(job.deadline - time.time(), 0.001))
    on_loop = time.time()
    mcp_ms = None
    try:
        if job.id in runtime.cancelled:  # cancelled while being handed to the loop
            raise asyncio.CancelledError()
        result = await session.request(job.kind, job.args, timeout, _progress_reporter(job), _log_reporter(job))
        mcp_ms = round((time.time() - on_loop) * 1000, 3)
        event = {"type": stream.FINAL_EVENT, "status": "succeeded", "result": result}
    except asyncio.CancelledError:
        event = _failure("cancelled", "cancelled while running; the server was sent notifications/cancelled")
    except TimeoutError:
        event = _failure("timeout", f"the tool did not answer within {timeout:g} s (cancelled on the server)")
    except ToolNotRunning as exc:
        event = _failure("tool_not_running", str(exc))
    except MCPError as exc:
        event = _mcp_failure(exc)
    except Exception as exc:
        log.exception("event=call.crashed job=%s", job.id)
        event = _failure("internal", f"{type(exc).__name__}: {exc}")
    finally:
        runtime.running_jobs.pop(job.id, None)
    _finish(job, event, started)
    # Where the time went: handing the job to the MCP loop, and the MCP request itself.
    event["timings"].update(handoff_ms=round((on_loop - started) * 1000, 3), mcp_ms=mcp_ms)
    await runtime.publish(job.id, event)
    _record(job, job_data, event, started)


def _progress_reporter(job: Job):
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        await runtime.publish(job.id, {"type": "progress", "progress": progress, "total": total, "message": message})
    return on_progress


def _log_reporter(job: Job):
    async def on_log(message: dict) -> None:
        await runtime.publish(job.id, {"type": "log", **message})
    return on_log


def _session_for(job: Job) -> ToolSession:
    session = runtime.sessions.get(job.tool_id)
    if session is None or session.client is None:
        session = _start_for_call(job)
    return session


def _start_for_call(job: Job) -> ToolSession:
    """The tool is not running here: auto-start it if it allows, or send the call to its owner."""
    tool = _tool(job.tool_id)
    owner = runtime.leases.owner(tool.id)
    if owner and owner != runtime.id:
        _forward(job, owner)
    # A tool meant to be running whose owner is gone (or that may auto-start) is started here.
    if not (tool.auto_start or (tool.desired_state == "running" and tool.status != "ERROR")):
        raise JobError(f"tool {tool.name} is not running (status {tool.status}); start it first", "tool_not_running")
    Tool.update(desired_state="running").where(Tool.id == tool.id).execute()
    state = _start_here(job, tool)
    if state["status"] != "RUNNING":
        raise JobError(f"tool {tool.name} could not be started: {state.get('last_error')}", "tool_not_running")
    return runtime.sessions[tool.id]


# -- workflows --------------------------------------------------------------------------------------

def workflow(job: Job) -> dict:
    """A workflow run: its steps are call jobs of their own (see workers.workflows)."""
    # Only the tools the API (or the scheduler) checked against the caller's rights, by id: a rename
    # since then must not send a step to another tool.
    tool_ids = job.args.get("tool_ids")
    if not isinstance(tool_ids, dict):
        raise JobError("the workflow run carries no checked tool ids", "bad_request")
    stages = validate_definition(job.args["definition"], set(tool_ids))
    return run_workflow(job, stages, runtime.jobs, tool_ids,
                        emit=lambda event: stream.publish_now(runtime.redis, runtime.settings, job.id, event),
                        cancelled=lambda: runtime.is_cancelled(job.id, check_redis=True))


# -- lifecycle --------------------------------------------------------------------------------------

def lifecycle(job: Job) -> dict:
    tool = _tool(job.tool_id)
    owner = runtime.leases.owner(tool.id)
    if job.kind == "start":
        Tool.update(desired_state="running", updated_at=utcnow()).where(Tool.id == tool.id).execute()
        if owner and owner != runtime.id:
            _forward(job, owner)
        state = _start_here(job, tool)
    elif job.kind == "stop":
        Tool.update(desired_state="stopped", updated_at=utcnow()).where(Tool.id == tool.id).execute()
        if owner and owner != runtime.id:
            _forward(job, owner)
        runtime.stop_tool_local(tool.id)
        Tool.update(status="STOPPED", pid=None, owner_worker=None, updated_at=utcnow()).where(
            Tool.id == tool.id).execute()
        state = {"status": "STOPPED", "pid": None}
    else:  # restart
        if owner and owner != runtime.id:
            _forward(job, owner)
        Tool.update(desired_state="running", updated_at=utcnow()).where(Tool.id == tool.id).execute()
        runtime.stop_tool_local(tool.id)
        state = _start_here(job, tool)
    if job.kind != "stop" and state["status"] != "RUNNING":
        raise JobError(f"tool {tool.name} did not start ({state['status']}): {state.get('last_error')}",
                       "start_failed")
    return {"tool_id": tool.id, "tool": tool.name, **{k: v for k, v in state.items() if k != "started_at"}}


def _start_here(job: Job, tool: Tool) -> dict:
    from workers.runtime import OwnedElsewhere

    cancellable = job.kind in LIFECYCLE_KINDS  # (a call auto-starting its tool is cancelled, not the tool)
    if cancellable:
        runtime.running_starts[job.id] = tool.id
    try:
        state = runtime.start_tool_local(Tool.get_by_id(tool.id))
    except OwnedElsewhere as exc:
        _forward(job, exc.owner)
    finally:
        runtime.running_starts.pop(job.id, None)
    if cancellable and runtime.is_cancelled(job.id, check_redis=False):
        raise JobError(f"cancelled while tool {tool.name} was starting; it was stopped", "cancelled")
    return state


def _forward(job: Job, owner: str | None) -> None:
    runtime.jobs.submit(job, worker_queue(owner) if owner else LIFECYCLE_QUEUE)
    raise Forwarded()


def _tool(tool_id: int) -> Tool:
    tool = Tool.get_or_none(Tool.id == tool_id)
    if tool is None:
        raise JobError(f"tool {tool_id} does not exist", "not_found")
    return tool
