"""The actor every job runs through: `run_job(job)`, dispatched on the job's kind.

The reply (the job's `result` event on its stream) is written first; the task row and the call
history are handed to the bookkeeper after it, so the caller never waits for the database.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from datetime import datetime, timezone

from mcp.shared.exceptions import MCPError

from models import Message, Session, Task, Tool, utcnow
from workers import stream
from workers.jobs import CALL_KINDS, LIFECYCLE_KINDS, LIFECYCLE_QUEUE, Job, JobClient, JobError
from workers.registry import worker_queue
from workers.tool_session import ToolNotRunning, ToolSession

log = logging.getLogger("mcps.jobs")
RESULT_SUMMARY_CHARS = 500
STORED_RESULT_CHARS = 256 * 1024
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
            result = call(job)
        elif job.kind in LIFECYCLE_KINDS:
            result = lifecycle(job)
        elif job.kind == "ping":
            result = {"pong": True, "worker": runtime.id}
        else:
            raise JobError(f"unknown job kind {job.kind}", "bad_request")
        event = {"type": stream.FINAL_EVENT, "status": "succeeded", "result": result}
    except Forwarded:
        return
    except JobError as exc:
        event = _failure(exc.error_type, str(exc))
    except Exception as exc:  # a bug must still answer the caller, who is waiting
        log.exception("event=job.crashed job=%s kind=%s", job.id, job.kind)
        event = _failure("internal", f"{type(exc).__name__}: {exc}")
    finished = time.time()
    event["timings"] = {"queued_ms": round((started - job.submitted_at) * 1000, 3),
                        "run_ms": round((finished - started) * 1000, 3)}
    event["worker"] = runtime.id
    stream.publish_now(runtime.redis, runtime.settings, job.id, event)
    if job.record:
        runtime.bookkeeper.write(lambda: record_outcome(runtime, job_data, event, started, finished))


def _failure(error_type: str, message: str) -> dict:
    status = "cancelled" if error_type == "cancelled" else "failed"
    return {"type": stream.FINAL_EVENT, "status": status, "error_type": error_type, "error": message}


# -- calls ------------------------------------------------------------------------------------------

def call(job: Job) -> dict:
    session = runtime.sessions.get(job.tool_id)
    if session is None or session.client is None:
        session = _start_for_call(job)
    timeout = min(float(job.args.get("timeout") or session.tool["call_timeout_s"]), session.tool["call_timeout_s"])
    if job.deadline is not None:
        timeout = min(timeout, max(job.deadline - time.time(), 0.001))
    future = asyncio.run_coroutine_threadsafe(_request(session, job, timeout), runtime.loop)
    runtime.running_jobs[job.id] = future
    try:
        return future.result()
    except concurrent.futures.CancelledError:
        raise JobError("cancelled while running; the server was sent notifications/cancelled", "cancelled")
    except TimeoutError:
        raise JobError(f"the tool did not answer within {timeout:g} s (cancelled on the server)", "timeout")
    except ToolNotRunning as exc:
        raise JobError(str(exc), "tool_not_running")
    except MCPError as exc:
        raise JobError(f"the MCP server answered with error {exc.code}: {exc}", "server_error")
    finally:
        runtime.running_jobs.pop(job.id, None)


async def _request(session: ToolSession, job: Job, timeout: float) -> dict:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        event = {"type": "progress", "progress": progress, "total": total, "message": message}
        await asyncio.to_thread(stream.publish_now, runtime.redis, runtime.settings, job.id, event)

    return await session.request(job.kind, job.args, timeout, on_progress)


def _start_for_call(job: Job) -> ToolSession:
    """The tool is not running here: auto-start it if it allows, or send the call to its owner."""
    tool = _tool(job.tool_id)
    owner = runtime.leases.owner(tool.id)
    if owner and owner != runtime.id:
        _forward(job, owner)
    # A tool meant to be running whose owner is gone (or that may auto-start) is started here.
    if not (tool.auto_start or tool.desired_state == "running"):
        raise JobError(f"tool {tool.name} is not running (status {tool.status}); start it first", "tool_not_running")
    Tool.update(desired_state="running").where(Tool.id == tool.id).execute()
    state = _start_here(job, tool)
    if state["status"] != "RUNNING":
        raise JobError(f"tool {tool.name} could not be started: {state.get('last_error')}", "tool_not_running")
    return runtime.sessions[tool.id]


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

    try:
        return runtime.start_tool_local(Tool.get_by_id(tool.id))
    except OwnedElsewhere as exc:
        _forward(job, exc.owner)


def _forward(job: Job, owner: str | None) -> None:
    JobClient(runtime.broker, runtime.redis, runtime.settings).submit(
        job, worker_queue(owner) if owner else LIFECYCLE_QUEUE)
    raise Forwarded()


def _tool(tool_id: int) -> Tool:
    tool = Tool.get_or_none(Tool.id == tool_id)
    if tool is None:
        raise JobError(f"tool {tool_id} does not exist", "not_found")
    return tool


# -- bookkeeping (runs on the bookkeeper thread, after the reply) -----------------------------------

_auto_sessions: dict[int, int] = {}


def record_outcome(rt, job_data: dict, event: dict, started: float | None, finished: float | None = None) -> None:
    job = Job.from_dict(job_data)
    finished = finished or time.time()
    result = event.get("result")
    stored = result if result is None or len(str(result)) <= STORED_RESULT_CHARS else {"truncated": True}
    row = {
        "kind": job.kind, "tool_id": job.tool_id, "user_id": job.user_id, "session_id": job.session_id,
        "status": event["status"], "args": job.args, "result": stored, "error": event.get("error"),
        "error_type": event.get("error_type"), "worker_id": rt.id,
        "started_at": _utc(started) if started else None, "finished_at": _utc(finished),
        "duration_ms": round((finished - started) * 1000, 3) if started else None,
    }
    Task.insert(id=job.id, created_at=_utc(job.submitted_at), **row).on_conflict(
        conflict_target=[Task.id], update=row).execute()
    if job.kind == "call":
        _record_message(job, event, row)


def _record_message(job: Job, event: dict, row: dict) -> None:
    session_id = job.session_id
    if session_id is None and job.user_id is not None:
        session_id = _auto_sessions.get(job.user_id)
        if session_id is None or not Session.select().where(Session.id == session_id).exists():
            session, _ = Session.get_or_create(user_id=job.user_id, is_auto=True,
                                               defaults={"name": "Automatic session"})
            session_id = _auto_sessions[job.user_id] = session.id
    if session_id is None:
        return
    result = event.get("result") or {}
    summary = str(result.get("content") if isinstance(result, dict) else result)[:RESULT_SUMMARY_CHARS]
    Message.create(session=session_id, user_id=job.user_id, tool_id=job.tool_id,
                   tool_name=job.args.get("tool", ""), arguments=job.args.get("arguments"),
                   result_summary=summary if event["status"] == "succeeded" else event.get("error"),
                   status=event["status"], is_error=bool(isinstance(result, dict) and result.get("isError")),
                   duration_ms=row["duration_ms"], task_id=job.id)
    Session.update(last_activity_at=utcnow(), updated_at=utcnow()).where(Session.id == session_id).execute()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
