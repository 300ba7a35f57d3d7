"""Enqueue a maintenance job (backup, retention, ...) for any worker, with its task row first.

Used by the scheduler at each fire time and by the API's "run now" (`POST /system/schedules/<name>/run`).
The row says queued until a worker's final write replaces it with the outcome and duration.
"""
from __future__ import annotations

import logging
import time

from jobs import Job, JobClient
from jobs.job import LIFECYCLE_QUEUE
from models import Task, utcnow

log = logging.getLogger("mcps.scheduler")


def enqueue_maintenance(jobs: JobClient, name: str, kind: str, trigger: str, user_id: int | None = None,
                        args: dict | None = None) -> Job:
    """`trigger` says who asked: "schedule" or "manual". A job no worker started within
    mcp.jobs.wait_max_s fails instead of running late (no pile-up of backups after an outage)."""
    job = Job(kind=kind, user_id=user_id, args={"schedule": name, "trigger": trigger, **(args or {})},
              deadline=time.time() + jobs.settings.mcp.jobs.wait_max_s)
    Task.create(id=job.id, kind=kind, name=name, user_id=user_id, status="queued", args=job.args, created_at=utcnow())
    jobs.submit(job, LIFECYCLE_QUEUE)
    log.info("event=maintenance.enqueued job=%s kind=%s schedule=%s trigger=%s", job.id, kind, name, trigger)
    return job
