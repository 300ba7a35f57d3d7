"""A task as clients see it: the database row, completed by its result stream while it is in flight
(calls answered synchronously have no row until the worker writes it, just after the reply)."""
from __future__ import annotations

from datetime import datetime, timezone

from api.extensions import get_redis, get_settings
from models import FINAL_STATUSES, Task
from jobs import stream
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
        if view is None and stream.read(get_redis(), get_settings(), task_id):
            return {"id": task_id, "status": "running"}
        return view
    if view is None:  # the worker names kind, tool, user and arguments: the row is not written yet
        view = {"id": task_id, **(final.get("job") or {})}
        submitted_at = view.pop("submitted_at", None)
        if submitted_at:
            view["created_at"] = datetime.fromtimestamp(submitted_at, timezone.utc).replace(tzinfo=None)
    view.update(status=final["status"], result=final.get("result"), error=final.get("error"),
                error_type=final.get("error_type"), worker_id=final.get("worker"))
    if final.get("timings"):
        view["duration_ms"] = final["timings"].get("run_ms")
    return view
