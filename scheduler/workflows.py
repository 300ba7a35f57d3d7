"""Start the runs of stored workflows that have a cron `schedule` (tasks of kind "workflow").

Every minute the leader looks at the fire times that fell in the minute just past and enqueues one
run per fire time; a Redis key per (workflow, fire time) makes sure a run is never started twice,
even across a change of leader.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger

from models import Task, utcnow
from scheduler.jobs import JobContext
from jobs import WORKFLOW_KIND, Job, JobClient
from jobs.keys import key

log = logging.getLogger("mcps.scheduler")
LOOK_BACK = timedelta(minutes=2)  # a late tick still finds the fire times it missed
FIRED_TTL_S = 24 * 3600


def due_fire_times(schedule: str, since: datetime, now: datetime) -> list[datetime]:
    trigger = CronTrigger.from_crontab(schedule, timezone=timezone.utc)
    times, previous = [], None
    fire = trigger.get_next_fire_time(None, since)
    while fire is not None and fire <= now and len(times) < 10:
        times.append(fire)
        previous = fire
        fire = trigger.get_next_fire_time(previous, previous + timedelta(seconds=1))
    return times


def start_scheduled_workflows(context: JobContext) -> int:
    """Enqueue the runs that are due; returns how many were started."""
    now = datetime.now(timezone.utc)
    jobs = JobClient.from_settings(context.settings, context.redis)
    started = 0
    for workflow in Task.select().where((Task.kind == "workflow") & Task.schedule.is_null(False)):
        for fire in due_fire_times(workflow.schedule, now - LOOK_BACK, now):
            marker = key(context.settings, "workflow", workflow.id, "fired", int(fire.timestamp()))
            if not context.redis.set(marker, 1, nx=True, ex=FIRED_TTL_S):
                continue
            job = Job(kind=WORKFLOW_KIND, user_id=workflow.user_id, parent_id=workflow.id,
                      args={"definition": workflow.definition, "scheduled_for": fire.isoformat()},
                      deadline=fire.timestamp() + context.settings.mcp.jobs.wait_max_s)
            Task.create(id=job.id, kind=job.kind, user_id=job.user_id, parent_id=workflow.id, status="queued",
                        args=job.args, created_at=utcnow())
            jobs.submit(job)
            started += 1
            log.info("event=workflow.scheduled workflow=%s run=%s fire=%s", workflow.id, job.id, fire.isoformat())
    return started
