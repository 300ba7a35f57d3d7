"""The periodic jobs, as data: a name, an APScheduler trigger and what to run.

What runs here must be short: real periodic work (backups, retention, probes) is enqueued as a Dramatiq
job, so the scheduler only decides *when*. Each `run` receives a `JobContext`. A job with a `kind` is
such a maintenance job (scheduler.maintenance enqueues it, recorded as a task); its schedule and
`enabled` come from config. Disabled jobs stay in the list (the API shows them) but never fire.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import redis
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config import Section
from jobs import JobClient
from jobs.keys import key

log = logging.getLogger("mcps.scheduler")

# Interval triggers count from this instant, not from process start, so every scheduler process has the
# same fire times and a new leader keeps the old one's rhythm instead of starting a period of its own.
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class JobContext:
    settings: Section
    redis: redis.Redis
    leader_id: str
    fire_time: datetime | None = None  # the scheduled instant this run is for


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    trigger: BaseTrigger
    run: Callable[[JobContext], None]
    enabled: bool = True
    kind: str | None = None  # the maintenance job kind it enqueues (None: it runs in the scheduler)
    schedule: str = ""  # the trigger as configured, for people


def every(seconds: float) -> IntervalTrigger:
    """An interval trigger aligned to EPOCH (fires at the same instants in every process)."""
    return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=timezone.utc)


UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def trigger_from(schedule: str) -> BaseTrigger:
    """`every 30s|5m|1h` or a five-field cron line in UTC (both checked by config.settings)."""
    interval = re.fullmatch(r"every (\d+(?:\.\d+)?)([smh])", schedule.strip())
    if interval:
        return every(float(interval[1]) * UNIT_SECONDS[interval[2]])
    return CronTrigger.from_crontab(schedule.strip(), timezone=timezone.utc)


def heartbeat_key(settings: Section) -> str:
    return key(settings, "scheduler", "heartbeat")


def heartbeat(context: JobContext) -> None:
    """Say that a leader is alive: a log line and a key that expires after three missed beats."""
    period_s = context.settings.scheduler.heartbeat_s
    beat = {"leader": context.leader_id, "pid": os.getpid(), "host": socket.gethostname(), "at": time.time()}
    context.redis.set(heartbeat_key(context.settings), json.dumps(beat), px=int(period_s * 3000))
    log.info("event=scheduler.heartbeat leader=%s", context.leader_id)


def scheduled_workflows(context: JobContext) -> None:
    from scheduler.workflows import start_scheduled_workflows  # late: it needs the models bound

    start_scheduled_workflows(context)


def maintenance(name: str, kind: str, schedule: str, enabled: bool) -> PeriodicJob:
    def run(context: JobContext) -> None:
        from scheduler.maintenance import enqueue_maintenance  # late: it needs the models bound

        scheduled_for = {"scheduled_for": context.fire_time.isoformat()} if context.fire_time else {}
        enqueue_maintenance(JobClient.from_settings(context.settings, context.redis), name, kind, trigger="schedule",
                            args=scheduled_for)
    return PeriodicJob(name, trigger_from(schedule), run, enabled=enabled, kind=kind, schedule=schedule)


def periodic_jobs(settings: Section) -> list[PeriodicJob]:
    data = settings.data
    return [
        PeriodicJob("heartbeat", every(settings.scheduler.heartbeat_s), heartbeat,
                    schedule=f"every {settings.scheduler.heartbeat_s}s"),
        PeriodicJob("scheduled_workflows", every(60), scheduled_workflows, schedule="every 60s"),
        maintenance("backup", "backup", data.backup.schedule, data.backup.enabled),
        maintenance("retention", "retention", data.cleanup.schedule, data.cleanup.enabled),
        maintenance("metric_sample", "metric_sample", f"every {settings.monitoring.interval_s}s",
                    settings.features.monitoring),
        maintenance("health_probe", "health_probe", f"every {settings.monitoring.probe_interval_s}s",
                    settings.features.monitoring),
        maintenance("alert_evaluation", "alert_evaluate", f"every {settings.monitoring.alert_interval_s}s",
                    settings.features.monitoring),
    ]
