"""The API's side of the job path: one JobClient per app, and how job outcomes become HTTP answers."""
from __future__ import annotations

import functools
import json

from flask import current_app, url_for

from limits import parse_many

from api.auth import authenticate
from api.errors import abort
from api.extensions import get_redis, get_settings
from models import Task, utcnow
from jobs import CallBudget, ErrorType, Job, JobClient, JobError, RateLimited
from jobs.events import failed
from jobs.keys import key

JOBS_KEY = "mcps.jobs"


def get_jobs() -> JobClient:
    jobs = current_app.extensions.get(JOBS_KEY)
    if jobs is None:
        jobs = current_app.extensions[JOBS_KEY] = JobClient.from_settings(get_settings(), get_redis())
    return jobs


@functools.lru_cache(maxsize=16)
def rate_limit(text: str):
    """The first limit of a rate limit setting ("100 per minute"), parsed once per text."""
    return parse_many(text)[0]


def call_budget() -> CallBudget:
    """This caller's call budget (settings.rate_limits.calls), counted per API key or else per user.
    It is checked by the enqueue script, in the same round trip as the job itself."""
    limit = rate_limit(get_settings().rate_limits.calls)  # a run-time setting: read at each call
    caller = authenticate()
    who = f"key:{caller.api_key.id}" if caller.api_key is not None else f"user:{caller.user.id}"
    return CallBudget(who=who, amount=limit.amount, window_ms=limit.get_expiry() * 1000, description=str(limit))


def raise_rate_limited(error: RateLimited) -> None:
    retry_after = max(1, -(-int(error.event.get("retry_after_ms", 1000)) // 1000))
    abort(429, message=str(error), errors={"error_type": "rate_limited"}, headers={"Retry-After": str(retry_after)})


def wait_limit(requested: float | None) -> float:
    maximum = get_settings().mcp.jobs.wait_max_s
    return min(requested, maximum) if requested else maximum


def enqueue_recorded(job: Job, limit: CallBudget | None = None) -> Task:
    """Asynchronous jobs: a queued task row first (so it can be listed and failed if its worker dies),
    then the job; the worker's final write replaces the row."""
    owner = get_jobs().owner_of(job.tool_id) if job.tool_id is not None else None
    task = Task.create(id=job.id, kind=job.kind, tool_id=job.tool_id, user_id=job.user_id,
                       session_id=job.session_id, parent_id=job.parent_id, status="queued", args=job.args,
                       worker_id=owner,
                       created_at=utcnow())
    try:
        get_jobs().submit(job, limit=limit)
    except RateLimited as error:
        task.delete_instance()
        raise_rate_limited(error)
    return task


def raise_for_failure(event: dict, task_id: str) -> None:
    """Answer a failed or cancelled job with its HTTP status, the one error shape and the task id."""
    if event.get("status") == "succeeded":
        return
    error_type = ErrorType.of(event.get("error_type"))
    if error_type is ErrorType.RATE_LIMITED:
        raise_rate_limited(RateLimited(event))
    abort(error_type.http_status, message=event.get("error") or error_type.value,
          errors={"error_type": error_type.value, "task_id": task_id})


def run_and_wait(job: Job, timeout_s: float, limit: CallBudget | None = None, stop_at_input: bool = False) -> dict:
    """Run a job synchronously; a wait that runs out is a JobError('wait_timeout') for the caller. With
    `stop_at_input` the wait also ends at the server's first question to its client (the event is returned)."""
    try:
        return get_jobs().run(job, timeout_s, limit, stop_at_input)
    except JobError as error:
        if error.error_type == ErrorType.WAIT_TIMEOUT:
            raise
        return failed(error.error_type, str(error))


def in_flight_key(job_id: str) -> str:
    return key(get_settings(), "job", job_id, "owner")


def remember_in_flight(job: Job) -> None:
    """Owner, tool and kind of a job whose row is not written yet (read by api.tasks.views.task_view)."""
    get_redis().set(in_flight_key(job.id), json.dumps({
        "kind": job.kind, "tool_id": job.tool_id, "user_id": job.user_id, "session_id": job.session_id,
        "parent_id": job.parent_id, "args": job.args, "submitted_at": job.submitted_at}),
        ex=get_settings().mcp.jobs.result_ttl_s)


def task_links(job: Job) -> dict:
    return {"self": url_for("tasks.TaskById", task_id=job.id), "events": url_for("tasks.task_events", task_id=job.id),
            "input": url_for("tasks.TaskInput", task_id=job.id)}


def accepted(job: Job, limit: CallBudget | None = None):
    """Enqueue an asynchronous job and answer 202 with its task id and where to follow it."""
    enqueue_recorded(job, limit)
    return accepted_after_wait(job, "queued")


def accepted_after_wait(job: Job, status: str = "running", **extra):
    """202 for a job already sent (a wait that ran out, a question to answer, or `accepted`)."""
    if status != "queued":  # no row until the worker writes it: who may read the task is kept meanwhile
        remember_in_flight(job)
    links = task_links(job)
    return {"task_id": job.id, "status": status, "links": links, **extra}, 202, {"Location": links["self"]}
