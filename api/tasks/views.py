"""A task as clients see it: the database row, completed by its result stream while it is in flight
(calls answered synchronously have no row until the worker writes it, just after the reply)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from api.extensions import get_redis, get_settings
from api.jobs import in_flight_key
from models import FINAL_STATUSES, Task
from jobs import input_requests, stream
from jobs import Job


def task_view(task_id: str, final: dict | None = None, job: Job | None = None) -> dict | None:
    """The task as a dict for TaskSchema, or None when neither a row nor a stream knows it.
    `job`, when the caller has it, describes a task whose row the worker has not written yet."""
    row = Task.get_or_none(Task.id == task_id)
    view = row.__data__.copy() if row is not None else None
    if view is not None and view["status"] in FINAL_STATUSES:
        return view
    if view is None and job is not None:
        view = {"id": job.id, "status": "running", "kind": job.kind, "tool_id": job.tool_id, "user_id": job.user_id,
                "session_id": job.session_id, "args": job.args,
                "created_at": datetime.fromtimestamp(job.submitted_at, timezone.utc).replace(tzinfo=None)}
    final = final or stream.final_event(get_redis(), get_settings(), task_id)
    if final is None:
        return with_questions(_in_flight_view(task_id, view))
    if view is None:  # the worker names kind, tool, user and arguments: the row is not written yet
        view = _from_job_description(task_id, final.get("job") or {}, final["status"])
    view.update(status=final["status"], result=final.get("result"), error=final.get("error"),
                error_type=final.get("error_type"), worker_id=final.get("worker"))
    if final.get("timings"):
        view["duration_ms"] = final["timings"].get("run_ms")
        _fill_times(view, final, job)
    return view


def _in_flight_view(task_id: str, view: dict | None) -> dict | None:
    if view is None:
        # In flight, no row yet: the owner and tool the API kept when its wait ran out. Without them
        # the task has no known owner, which policy.access shows to no viewer and no scoped key.
        in_flight = get_redis().get(in_flight_key(task_id))
        if in_flight is not None:
            return _from_job_description(task_id, json.loads(in_flight), "running")
        if stream.read(get_redis(), get_settings(), task_id):
            return {"id": task_id, "status": "running"}
    return view


def with_questions(view: dict | None) -> dict | None:
    """A task in flight whose server waits for its client's answer is `input_required`, with the questions."""
    if view is None:
        return None
    questions = input_requests.pending(get_redis(), get_settings(), view["id"])
    if questions:
        view.update(status="input_required", input_requests=list(questions.values()))
    return view


def _from_job_description(task_id: str, described: dict, status: str) -> dict:
    view = {"id": task_id, **described, "status": status}
    submitted_at = view.pop("submitted_at", None)
    if submitted_at:
        view["created_at"] = datetime.fromtimestamp(submitted_at, timezone.utc).replace(tzinfo=None)
    return view


def _fill_times(view: dict, final: dict, job: Job | None) -> None:
    """started_at / finished_at from the final event's timings while the row still says queued (the worker
    writes it just after replying): a finished task never shows them empty."""
    submitted_at = job.submitted_at if job is not None else (final.get("job") or {}).get("submitted_at")
    if not submitted_at or view.get("finished_at") is not None:
        return
    started = submitted_at + final["timings"].get("queued_ms", 0) / 1000
    finished = started + final["timings"].get("run_ms", 0) / 1000
    view["started_at"] = view.get("started_at") or _utc(started)
    view["finished_at"] = _utc(finished)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
