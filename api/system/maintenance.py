"""Maintenance jobs asked for through the API: recorded as tasks, answered as the tool lifecycle is
(202 + task id, or with wait=true the finished task, or the failure in the one error shape)."""
from __future__ import annotations

from flask import jsonify
from marshmallow import Schema, fields, validate

from api.auth import current_user
from api.jobs import accepted_after_wait, get_jobs, raise_for_failure, wait_limit
from api.tasks.schemas import TaskSchema
from api.tasks.views import task_view
from jobs import JobError
from scheduler.maintenance import enqueue_maintenance


class WaitArgs(Schema):
    wait = fields.Boolean(load_default=False, metadata={"description": "Wait for the outcome (bounded)."})
    timeout = fields.Float(validate=validate.Range(min=0.1, max=3600),
                           metadata={"description": "Seconds to wait at most with wait=true."})


def run_now(name: str, kind: str, wait_args: dict, job_args: dict | None = None):
    job = enqueue_maintenance(get_jobs(), name, kind, "manual", current_user().id, job_args)
    if not wait_args["wait"]:
        return accepted_after_wait(job, "queued")
    try:
        event = get_jobs().wait(job.id, wait_limit(wait_args.get("timeout")))
    except JobError:
        return accepted_after_wait(job)
    raise_for_failure(event, job.id)
    # A Response: @blp.response would dump the task with AcceptedSchema, the 202's schema.
    return jsonify(TaskSchema().dump(task_view(job.id, event, job))), 200
