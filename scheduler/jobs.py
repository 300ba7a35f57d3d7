"""The periodic jobs, as data: a name, an APScheduler trigger and what to run.

What runs here must be short: real periodic work (backups, retention, probes) is enqueued as a Dramatiq
job, so the scheduler only decides *when*. Each `run` receives a `JobContext`.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import redis
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config import Section
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


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    trigger: BaseTrigger
    run: Callable[[JobContext], None]


def every(seconds: float) -> IntervalTrigger:
    """An interval trigger aligned to EPOCH (fires at the same instants in every process)."""
    return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=timezone.utc)


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


def periodic_jobs(settings: Section) -> list[PeriodicJob]:
    return [
        PeriodicJob("heartbeat", every(settings.scheduler.heartbeat_s), heartbeat),
        PeriodicJob("scheduled_workflows", every(60), scheduled_workflows),
    ]
