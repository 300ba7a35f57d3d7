"""/api/v1/system/schedules: the periodic jobs (scheduler.jobs) with their last and next run, and
"run now" for the maintenance ones."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask.views import MethodView
from marshmallow import Schema, fields

from api.auth import require_role
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.schemas import UTCDateTime
from api.system.maintenance import WaitArgs, run_now
from api.tasks.schemas import AcceptedSchema, TaskSchema
from api.tasks.views import task_view
from models import Task
from scheduler.jobs import PeriodicJob, heartbeat_key, periodic_jobs

blp = Blueprint("schedules", __name__, url_prefix="/system/schedules", description="Periodic maintenance jobs")


class LastRunSchema(Schema):
    task_id = fields.String(allow_none=True)
    status = fields.String()
    trigger = fields.String(allow_none=True, metadata={"description": "schedule | manual"})
    at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)
    duration_ms = fields.Float(allow_none=True)
    error = fields.String(allow_none=True)


class ScheduleSchema(Schema):
    name = fields.String()
    kind = fields.String(allow_none=True, metadata={"description": "The job kind run on a worker; "
                                                                   "null: runs inside the scheduler"})
    schedule = fields.String(metadata={"description": "cron line (UTC) or 'every <n>s|m|h'"})
    enabled = fields.Boolean()
    next_run_at = UTCDateTime(allow_none=True)
    last_run = fields.Nested(LastRunSchema, allow_none=True)


class ScheduleListSchema(Schema):
    items = fields.List(fields.Nested(ScheduleSchema))


def last_run(job: PeriodicJob) -> dict | None:
    if job.kind is not None:
        task = (Task.select().where((Task.kind == job.kind) & (Task.name == job.name))
                .order_by(Task.created_at.desc()).first())
        if task is None:
            return None
        view = task_view(task.id) or task.__data__  # a finished job's row is written just after its reply
        return {"task_id": task.id, "status": view["status"], "trigger": (task.args or {}).get("trigger"),
                "at": task.created_at, "finished_at": view.get("finished_at"), "duration_ms": view.get("duration_ms"),
                "error": view.get("error")}
    if job.name == "heartbeat":
        beat = get_redis().get(heartbeat_key(get_settings()))
        if beat is not None:
            return {"status": "succeeded", "trigger": "schedule",
                    "at": datetime.fromtimestamp(json.loads(beat)["at"], timezone.utc)}
    return None


def describe(job: PeriodicJob) -> dict:
    next_run = job.trigger.get_next_fire_time(None, datetime.now(timezone.utc)) if job.enabled else None
    return {"name": job.name, "kind": job.kind, "schedule": job.schedule, "enabled": job.enabled,
            "next_run_at": next_run, "last_run": last_run(job)}


@blp.route("")
class Schedules(MethodView):
    @require_role("operator")
    @blp.response(200, ScheduleListSchema)
    def get(self):
        """The periodic jobs: schedule, enabled, next run, last run and its outcome"""
        return {"items": [describe(job) for job in periodic_jobs(get_settings())]}


@blp.route("/<name>/run")
class RunSchedule(MethodView):
    @require_role("admin")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task")
    def post(self, args, name):
        """Run a maintenance job now (also when disabled in config), as a task"""
        job = next((job for job in periodic_jobs(get_settings()) if job.name == name), None)
        if job is None:
            abort(404, message=f"no periodic job {name}")
        if job.kind is None:
            abort(409, message=f"{name} runs inside the scheduler and cannot be run on demand")
        return run_now(job.name, job.kind, args)
