"""A task as clients see it: the database row, completed by its result stream while it is in flight
(calls answered synchronously have no row until the worker writes it, just after the reply)."""
from __future__ import annotations

from api.extensions import get_redis, get_settings
from models import FINAL_STATUSES, Task
from workers import stream


def task_view(task_id: str, final: dict | None = None) -> dict | None:
    """The task as a dict for TaskSchema, or None when neither a row nor a stream knows it."""
    row = Task.get_or_none(Task.id == task_id)
    view = row.__data__.copy() if row is not None else None
    if view is not None and view["status"] in FINAL_STATUSES:
        return view
    final = final or stream.final_event(get_redis(), get_settings(), task_id)
    if final is None:
        if view is None and stream.read(get_redis(), get_settings(), task_id):
            return {"id": task_id, "status": "running"}
        return view
    view = view or {"id": task_id}
    view.update(status=final["status"], result=final.get("result"), error=final.get("error"),
                error_type=final.get("error_type"), worker_id=final.get("worker"))
    if final.get("timings"):
        view["duration_ms"] = final["timings"].get("run_ms")
    return view
