"""A BlockingScheduler that runs the periodic jobs only while this process is the elected leader.

Every scheduler process keeps the same timetable; at each fire time a job runs only where the leader
lock is held, so two processes never run the same job, and a follower simply finds itself leader once
the old lock expires.

Each run first claims its fire time in Redis (SET NX): a fire time runs once even if two processes
believed themselves leader around a hand-over. A new leader looks back over the last `catch_up_s` and
runs every job whose latest fire time nobody claimed: the runs due while the old leader was dead and
its lock not yet expired are run late rather than lost (a daily backup at 03:00 still happens).

Run-time settings (PUT/PATCH /api/v1/system/config) are followed by every scheduler process, leader or
not, within a second: a job switched on or off is added or removed, a changed schedule reschedules it,
and the next runs get the new settings (`follow`).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

import redis
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config import Section
from scheduler.jobs import JobContext, PeriodicJob, every, periodic_jobs
from scheduler.leader import LeaderElection, LeaderLock
from jobs.keys import key
from models.runtime_settings import CHECK_EVERY_S, LiveSettings, apply_log_level

log = logging.getLogger("mcps.scheduler")


MISFIRE_GRACE_S = 30
FOLLOW_JOB = "follow_settings"  # not a periodic job of the platform: every process runs it, leader or not


def latest_fire_time(trigger: BaseTrigger, now: datetime, look_back_s: float) -> datetime | None:
    """The last instant ≤ now at which `trigger` fired, if within `look_back_s`."""
    if isinstance(trigger, IntervalTrigger):  # arithmetic: a short interval would mean many iterations
        interval = trigger.interval.total_seconds()
        periods = (now - trigger.start_date).total_seconds() // interval
        latest = trigger.start_date + timedelta(seconds=periods * interval)
        return latest if (now - latest).total_seconds() <= look_back_s else None
    latest, fire = None, trigger.get_next_fire_time(None, now - timedelta(seconds=look_back_s))
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def new_scheduler_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PeriodicScheduler:
    """`run()` blocks until `stop()`, which may be called from any thread or a signal handler."""

    def __init__(self, settings: Section, jobs: list[PeriodicJob], client: redis.Redis,
                 scheduler_id: str | None = None, follow: LiveSettings | None = None,
                 jobs_for: Callable[[Section], list[PeriodicJob]] | None = None):
        """`follow`: the live settings to apply when they change, `jobs_for(settings)` (by default the
        platform's periodic jobs) then giving the jobs."""
        self.settings = settings
        self.client = client
        self.id = scheduler_id or new_scheduler_id()
        self.election = LeaderElection(LeaderLock(client, settings, self.id), on_elected=self._catch_up_soon)
        self.catch_up_s = max(MISFIRE_GRACE_S, 2 * settings.scheduler.leader_ttl_ms / 1000)
        # coalesce + one instance: a late or slow job never piles up runs of itself.
        self.scheduler = BlockingScheduler(timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S})
        self.jobs = [job for job in jobs if job.enabled]
        for job in self.jobs:
            self._add(job)
        self.live, self.jobs_for = follow, jobs_for or periodic_jobs
        if follow is not None:
            self.scheduler.add_job(self._follow_settings, every(CHECK_EVERY_S), id=FOLLOW_JOB, name=FOLLOW_JOB)
        self._catch_ups: list[threading.Thread] = []
        self._started = threading.Event()
        self._jobs_finished = threading.Event()
        self._stop_requested = threading.Event()
        self.scheduler.add_listener(lambda event: self._started.set(), EVENT_SCHEDULER_STARTED)

    @property
    def job_names(self) -> list[str]:
        return [job.name for job in self.jobs]

    def _add(self, job: PeriodicJob) -> None:
        self.scheduler.add_job(self._run_if_leader, job.trigger, args=[job], id=job.name, name=job.name)

    def _follow_settings(self) -> None:
        settings = self.live.refresh()
        if settings is not self.settings and not self._stop_requested.is_set():
            self.apply(settings)

    def apply(self, settings: Section) -> None:
        """Take new settings: the runs from now on get them, and each job's schedule and switch follow."""
        self.settings = settings
        apply_log_level(settings)
        wanted = {job.name: job for job in self.jobs_for(settings) if job.enabled}
        current = {job.name: job for job in self.jobs}
        for name in current.keys() - wanted.keys():
            self.scheduler.remove_job(name)
            log.info("event=scheduler.job_disabled job=%s id=%s", name, self.id)
        for name, job in wanted.items():
            if name not in current:
                self._add(job)
                log.info("event=scheduler.job_enabled job=%s schedule=%r id=%s", name, job.schedule, self.id)
            elif job.schedule != current[name].schedule:
                self.scheduler.modify_job(name, args=[job])
                self.scheduler.reschedule_job(name, trigger=job.trigger)
                log.info("event=scheduler.job_rescheduled job=%s schedule=%r was=%r id=%s", name, job.schedule,
                         current[name].schedule, self.id)
            else:
                self.scheduler.modify_job(name, args=[job])  # the same trigger; its run reads new settings
        self.jobs = list(wanted.values())

    def is_leader(self) -> bool:
        return self.election.is_leader()

    def run(self) -> None:
        self.election.start()
        try:
            self.scheduler.start()  # blocks until the shutdown started by stop()
        except BaseException:
            self.election.stop()
            raise
        # Give the lock up only once running jobs are done, or a follower could overlap them.
        self._jobs_finished.wait()
        self.election.stop()

    def stop(self) -> None:
        if self._stop_requested.is_set():
            return
        self._stop_requested.set()
        # shutdown(wait=True) blocks on running jobs: not something to do inside a signal handler.
        threading.Thread(target=self._shutdown, name="scheduler-shutdown", daemon=True).start()

    def _shutdown(self) -> None:
        self._started.wait()  # stop() may arrive while run() is still starting the scheduler
        self.scheduler.shutdown(wait=True)
        for thread in self._catch_ups:
            thread.join()
        self._jobs_finished.set()

    def _run_if_leader(self, job: PeriodicJob, catching_up: bool = False) -> None:
        if not self.election.is_leader():
            log.debug("event=scheduler.job_skipped job=%s id=%s reason=follower", job.name, self.id)
            return
        fire = latest_fire_time(job.trigger, datetime.now(timezone.utc), self.catch_up_s)
        if fire is None:
            return
        if not self._claim(job, fire):
            if not catching_up:
                log.info("event=scheduler.job_skipped job=%s id=%s reason=already_run fire=%s", job.name,
                         self.id, fire.isoformat())
            return
        if catching_up:
            log.warning("event=scheduler.catch_up job=%s id=%s fire=%s", job.name, self.id, fire.isoformat())
        job.run(JobContext(self.settings, self.client, self.id, fire))

    def _claim(self, job: PeriodicJob, fire: datetime) -> bool:
        """The first process to claim a job's fire time runs it; nobody else ever does."""
        marker = key(self.settings, "scheduler", "fired", job.name, int(fire.timestamp() * 1000))
        return bool(self.client.set(marker, self.id, nx=True, ex=int(self.catch_up_s * 2) + 1))

    def _catch_up_soon(self) -> None:
        """Just elected: run what is due and was not run, on a thread of its own (the election thread
        must not block; a job added to APScheduler from outside its loop races its removal)."""
        thread = threading.Thread(target=self._catch_up, name="scheduler-catch-up", daemon=True)
        self._catch_ups.append(thread)
        thread.start()

    def _catch_up(self) -> None:
        for job in self.jobs:
            try:
                self._run_if_leader(job, catching_up=True)
            except Exception:  # one job's failure must not keep the others from catching up
                log.exception("event=scheduler.catch_up_failed job=%s id=%s", job.name, self.id)
