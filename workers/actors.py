"""What a job does on a worker: `JobRunner.run_job(job)` is the Dramatiq actor (registered as a bound
method by workers.main), dispatched on the job's kind; `dispatch_on_loop` is the consumer's shortcut
for calls to a tool served here.

The reply (the job's final event on its stream) is written first; the task row and the call history
are handed to the bookkeeper after it, so the caller never waits for the database.
"""
from __future__ import annotations

import asyncio
import logging
import time

import redis
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND

from jobs import admission, events, live_events
from jobs.events import ErrorType, JobError
from jobs.job import (ACTOR, CALL_KINDS, CANCEL_KIND, LIFECYCLE_KINDS, LIFECYCLE_QUEUE, MAINTENANCE_KINDS,
                      WORKFLOW_KIND, Job)
from jobs.registry import worker_queue
from models import Tool, utcnow
from workers.history import JobRecord
from workers.maintenance import run_maintenance
from workers.runtime import OwnedElsewhere, WorkerRuntime
from workers.asking import ASKING_KINDS, CallInFlight
from workers.tool_session import ToolNotRunning, ToolSession
from jobs.workflow import WorkflowError, validate_definition
from workers.workflows import StepFailed, run_workflow

log = logging.getLogger("mcps.jobs")
# A message this much older than its submission may have been cancelled while queued: ask Redis.
CANCEL_CHECK_AGE_S = 0.05
# MCP error codes that say something about the request rather than the server.
MCP_ERROR_TYPES = {CONNECTION_CLOSED: ErrorType.CONNECTION_LOST, METHOD_NOT_FOUND: ErrorType.METHOD_NOT_FOUND,
                   INVALID_PARAMS: ErrorType.INVALID_PARAMS}


class Forwarded(Exception):
    """The job went on to the worker that owns its tool; that worker answers."""


class JobRunner:
    def __init__(self, runtime: WorkerRuntime):
        self.runtime = runtime

    # -- entry points -----------------------------------------------------------------------------

    def run_job(self, job_data: dict) -> None:
        """The actor: every job a Dramatiq worker thread takes."""
        job = Job.from_dict(job_data)
        if job.kind == CANCEL_KIND:
            self.runtime.cancel_local(job.args["job_id"])
            return
        started = time.time()
        try:
            self._check_entry(job, started, ask_redis=started - job.submitted_at > CANCEL_CHECK_AGE_S)
            if job.kind in CALL_KINDS:
                # The call runs and answers on the MCP loop; this thread is free at once.
                self._start_call(job, job_data, self._session_for(job), started)
                return
            if job.kind not in LIFECYCLE_KINDS:  # (a lifecycle job tells its steps once it knows it runs here)
                self._tell_live(job, "started")
            event = events.succeeded(self._run_here(job))
        except Forwarded:
            return
        except StepFailed as exc:
            event = {**exc.event(), "result": {"steps": exc.steps}}
        except (JobError, WorkflowError) as exc:
            event = events.failed(getattr(exc, "error_type", ErrorType.BAD_REQUEST), str(exc))
        except Exception as exc:  # a bug must still answer the caller, who is waiting
            log.exception("event=job.crashed job=%s kind=%s", job.id, job.kind)
            event = events.failed(ErrorType.INTERNAL, f"{type(exc).__name__}: {exc}")
        self._finish(job, event, started)
        try:
            self.runtime.publish_now(job.id, event)
        except redis.RedisError as error:
            reply_lost(job, error)
        self._record(job_data, event, started)

    def dispatch_on_loop(self, message) -> bool:
        """The direct consumer's shortcut (workers.consumers.DirectConsumer): a fresh call to a tool
        running here goes straight to the MCP loop. Anything else (another kind, a tool to start or
        forward, a job refused at entry, one old enough to have been cancelled while queued) is declined
        and takes the usual way through run_job on a Dramatiq worker thread."""
        job_data = message.args[0] if message.actor_name == ACTOR and message.args else None
        if not isinstance(job_data, dict) or job_data.get("kind") not in CALL_KINDS:
            return False
        session = self.runtime.sessions.get(job_data.get("tool_id"))
        started = time.time()
        if session is None or session.client is None or started - job_data["submitted_at"] > CANCEL_CHECK_AGE_S:
            return False
        job = Job.from_dict(job_data)
        try:
            self._check_entry(job, started, ask_redis=False)
        except JobError:
            return False  # run_job answers it
        self._start_call(job, job_data, session, started)
        return True

    def _check_entry(self, job: Job, started: float, ask_redis: bool) -> None:
        """The checks every job passes before it runs: its deadline, and whether it was cancelled."""
        if job.deadline is not None and started > job.deadline:
            raise JobError("the job's deadline passed before a worker could start it", ErrorType.DEADLINE_EXCEEDED)
        if self.runtime.is_cancelled(job.id, check_redis=ask_redis):
            raise JobError("cancelled before it started", ErrorType.CANCELLED)

    def _run_here(self, job: Job) -> dict:
        if job.kind in LIFECYCLE_KINDS:
            return self.lifecycle(job)
        if job.kind == WORKFLOW_KIND:
            return self.workflow(job)
        if job.kind in MAINTENANCE_KINDS:
            return run_maintenance(job, self.runtime)
        if job.kind == "ping":
            return {"pong": True, "worker": self.runtime.id}
        raise JobError(f"unknown job kind {job.kind}", ErrorType.BAD_REQUEST)

    # -- answering --------------------------------------------------------------------------------

    def _finish(self, job: Job, event: dict, started: float) -> None:
        event["timings"] = {"queued_ms": round((started - job.submitted_at) * 1000, 3),
                            "run_ms": round((time.time() - started) * 1000, 3)}
        event["worker"] = self.runtime.id
        # Who and what, so that the result alone can be authorised before the task row is written.
        event["job"] = {"kind": job.kind, "tool_id": job.tool_id, "user_id": job.user_id,
                        "parent_id": job.parent_id, "session_id": job.session_id, "args": job.args,
                        "submitted_at": job.submitted_at}

    def _record(self, job_data: dict, event: dict, started: float) -> None:
        if job_data.get("record", True):
            self.runtime.bookkeeper.record(JobRecord(job_data, event, self.runtime.id, started, time.time()))

    # -- calls (on the MCP loop) ------------------------------------------------------------------

    def _tell_live(self, job: Job, phase: str, **details) -> None:
        """A `task` live event of a job that will be recorded (its finish is told after its row is written)."""
        if job.record:
            self.runtime.bookkeeper.tell(*live_events.task_event(
                {"id": job.id, "kind": job.kind, "tool_id": job.tool_id, "user_id": job.user_id},
                phase, "running", **details))

    def _start_call(self, job: Job, job_data: dict, session: ToolSession, started: float) -> None:
        self._tell_live(job, "started")

        def start() -> None:
            self.runtime.running_jobs[job.id] = self.runtime.loop.create_task(
                self._serve_call(job, job_data, session, started))
        self.runtime.loop.call_soon_threadsafe(start)

    async def _serve_call(self, job: Job, job_data: dict, session: ToolSession, started: float) -> None:
        runtime = self.runtime
        timeout = min(float(job.args.get("timeout") or session.tool["call_timeout_s"]), session.tool["call_timeout_s"])
        if job.deadline is not None:
            timeout = min(timeout, max(job.deadline - time.time(), 0.001))
        on_loop = time.time()
        mcp_ms = None
        call = CallInFlight(job.id, time.monotonic() + timeout) if job.kind in ASKING_KINDS else None
        try:
            if job.id in runtime.cancelled:  # cancelled while being handed to the loop
                raise asyncio.CancelledError()
            result = await session.request(job.kind, job.args, timeout, self._progress_reporter(job),
                                           self._log_reporter(job), call)
            mcp_ms = round((time.time() - on_loop) * 1000, 3)
            event = events.succeeded(result)
        except asyncio.CancelledError:
            event = events.failed(ErrorType.CANCELLED, "cancelled while running; the server was sent notifications/cancelled")
        except TimeoutError:
            event = events.failed(ErrorType.TIMEOUT, f"the tool did not answer within {timeout:g} s (cancelled on the server)")
        except ToolNotRunning as exc:
            event = events.failed(ErrorType.TOOL_NOT_RUNNING, str(exc))
        except MCPError as exc:
            event = mcp_failure(exc)
        except Exception as exc:
            log.exception("event=call.crashed job=%s", job.id)
            event = events.failed(ErrorType.INTERNAL, f"{type(exc).__name__}: {exc}")
        finally:
            runtime.running_jobs.pop(job.id, None)
        if call is not None:
            event = unanswered_failure(call, event, timeout)
            await runtime.asker.forget(call)
        self._finish(job, event, started)
        # Where the time went: handing the job to the MCP loop, and the MCP request itself.
        event["timings"].update(handoff_ms=round((on_loop - started) * 1000, 3), mcp_ms=mcp_ms)
        try:
            await runtime.publish(job.id, event)
        except redis.RedisError as error:
            reply_lost(job, error)
        self._record(job_data, event, started)

    def _progress_reporter(self, job: Job):
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            await self.runtime.publish(job.id, events.progress(progress, total, message))
            self._tell_live(job, "progress", progress=progress, total=total, message=message)
        return on_progress

    def _log_reporter(self, job: Job):
        async def on_log(message: dict) -> None:
            await self.runtime.publish(job.id, events.log(message))
        return on_log

    def _session_for(self, job: Job) -> ToolSession:
        session = self.runtime.sessions.get(job.tool_id)
        if session is None or session.client is None:
            session = self._start_for_call(job)
        return session

    def _start_for_call(self, job: Job) -> ToolSession:
        """The tool is not running here: send the call to its owner, or start it here if it may."""
        tool = _tool(job.tool_id)
        owner = self.runtime.live_owner(tool.id)
        if owner and owner != self.runtime.id:
            self._forward(job, owner)
        admission.check_call(tool, running=False)
        Tool.update(desired_state="running").where(Tool.id == tool.id).execute()
        state = self._start_here(job, tool)
        if state["status"] != "RUNNING":
            raise JobError(f"tool {tool.name} could not be started: {state.get('last_error')}",
                           ErrorType.TOOL_NOT_RUNNING)
        return self.runtime.sessions[tool.id]

    # -- workflows --------------------------------------------------------------------------------

    def workflow(self, job: Job) -> dict:
        """A workflow run: its steps are call jobs of their own (see workers.workflows)."""
        runtime = self.runtime
        # Only the tools the API (or the scheduler) checked against the caller's rights, by id: a rename
        # since then must not send a step to another tool.
        tool_ids = job.args.get("tool_ids")
        if not isinstance(tool_ids, dict):
            raise JobError("the workflow run carries no checked tool ids", ErrorType.BAD_REQUEST)
        stages = validate_definition(job.args["definition"], set(tool_ids))
        return run_workflow(job, stages, runtime.jobs, tool_ids,
                            emit=lambda event: runtime.publish_now(job.id, event),
                            cancelled=lambda: runtime.is_cancelled(job.id, check_redis=True),
                            max_parallel=runtime.settings.mcp.agent.max_workers)

    # -- lifecycle --------------------------------------------------------------------------------

    def lifecycle(self, job: Job) -> dict:
        runtime = self.runtime
        tool = _tool(job.tool_id)
        owner = runtime.live_owner(tool.id)
        owned_elsewhere = owner is not None and owner != runtime.id
        if job.kind == "stop":
            Tool.update(desired_state="stopped", updated_at=utcnow()).where(Tool.id == tool.id).execute()
            if owned_elsewhere:
                self._forward(job, owner)
            self._tell_live(job, "started", progress=0, total=1, message=f"stopping {tool.name}")
            runtime.stop_tool_local(tool.id)
            Tool.update(status="STOPPED", pid=None, owner_worker=None, updated_at=utcnow()).where(
                Tool.id == tool.id).execute()
            return {"tool_id": tool.id, "tool": tool.name, "status": "STOPPED", "pid": None}
        if job.kind == "start":
            Tool.update(desired_state="running", updated_at=utcnow()).where(Tool.id == tool.id).execute()
        if owned_elsewhere:
            self._forward(job, owner)
        steps = 2 if job.kind == "restart" else 1
        if job.kind == "restart":
            self._tell_live(job, "started", progress=0, total=steps, message=f"stopping {tool.name}")
            Tool.update(desired_state="running", updated_at=utcnow()).where(Tool.id == tool.id).execute()
            runtime.stop_tool_local(tool.id)
        self._tell_live(job, "progress" if steps == 2 else "started", progress=steps - 1, total=steps,
                        message=f"starting {tool.name}")
        state = self._start_here(job, tool)
        if state["status"] != "RUNNING":
            raise JobError(f"tool {tool.name} did not start ({state['status']}): {state.get('last_error')}",
                           ErrorType.START_FAILED)
        return {"tool_id": tool.id, "tool": tool.name, **{k: v for k, v in state.items() if k != "started_at"}}

    def _start_here(self, job: Job, tool: Tool) -> dict:
        runtime = self.runtime
        cancellable = job.kind in LIFECYCLE_KINDS  # (a call auto-starting its tool is cancelled, not the tool)
        if cancellable:
            runtime.running_starts[job.id] = tool.id
        try:
            state = runtime.start_tool_local(Tool.get_by_id(tool.id))
        except OwnedElsewhere as exc:
            self._forward(job, exc.owner)
        finally:
            runtime.running_starts.pop(job.id, None)
        if cancellable and runtime.is_cancelled(job.id, check_redis=False):
            raise JobError(f"cancelled while tool {tool.name} was starting; it was stopped", ErrorType.CANCELLED)
        return state

    def _forward(self, job: Job, owner: str | None) -> None:
        self.runtime.jobs.submit(job, worker_queue(owner) if owner else LIFECYCLE_QUEUE)
        raise Forwarded()


def reply_lost(job: Job, error: Exception) -> None:
    """Redis went away before the reply could be written: its caller already reads an error from its own
    Redis client. The job still ran, so it is still recorded (its task row says how it ended)."""
    log.warning("event=job.reply_lost job=%s kind=%s error=%r", job.id, job.kind, str(error))


def unanswered_failure(call: CallInFlight, event: dict, timeout: float) -> dict:
    """A call whose server asked its client something that went unanswered fails for that reason, whatever
    the server made of the error it was given (or if the call's own time ran out while it waited)."""
    if event.get("status") == "cancelled":
        return event
    if call.unanswered:
        return events.failed(ErrorType.INPUT_TIMEOUT, call.unanswered)
    if call.waiting_for and event.get("error_type") == ErrorType.TIMEOUT.value:
        return events.failed(ErrorType.INPUT_TIMEOUT, f"the client did not answer the server's {call.waiting_for} "
                                                      f"within the call's {timeout:g} s")
    return event


def mcp_failure(exc: MCPError) -> dict:
    error_type = MCP_ERROR_TYPES.get(exc.code, ErrorType.SERVER_ERROR)
    if error_type is ErrorType.CONNECTION_LOST:
        message = "the connection to the MCP server was lost during the call (it is being restarted)"
    else:
        message = f"the MCP server answered with error {exc.code}: {exc}"
    return events.failed(error_type, message, mcp_error_code=exc.code)


def _tool(tool_id: int) -> Tool:
    tool = Tool.get_or_none(Tool.id == tool_id)
    if tool is None:
        raise JobError(f"tool {tool_id} does not exist", ErrorType.NOT_FOUND)
    return tool
