"""A BlockingScheduler that runs the periodic jobs only while this process is the elected leader.

Every scheduler process keeps the same timetable; at each fire time a job runs only where the leader
lock is held, so two processes never run the same job, and a follower simply finds itself leader once
the old lock expires.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timezone

import redis
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.blocking import BlockingScheduler

from config import Section
from scheduler.jobs import JobContext, PeriodicJob
from scheduler.leader import LeaderElection, LeaderLock

log = logging.getLogger("mcps.scheduler")


def new_scheduler_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PeriodicScheduler:
    """`run()` blocks until `stop()`, which may be called from any thread or a signal handler."""

    def __init__(self, settings: Section, jobs: list[PeriodicJob], client: redis.Redis,
                 scheduler_id: str | None = None):
        self.settings = settings
        self.client = client
        self.id = scheduler_id or new_scheduler_id()
        self.election = LeaderElection(LeaderLock(client, settings, self.id))
        # coalesce + one instance: a late or slow job never piles up runs of itself.
        self.scheduler = BlockingScheduler(
            timezone=timezone.utc, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
        for job in (job for job in jobs if job.enabled):
            self.scheduler.add_job(self._run_if_leader, job.trigger, args=[job], id=job.name, name=job.name)
        self._started = threading.Event()
        self._jobs_finished = threading.Event()
        self._stop_requested = threading.Event()
        self.scheduler.add_listener(lambda event: self._started.set(), EVENT_SCHEDULER_STARTED)

    @property
    def job_names(self) -> list[str]:
        return [job.id for job in self.scheduler.get_jobs()]

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
        self._jobs_finished.set()

    def _run_if_leader(self, job: PeriodicJob) -> None:
        if not self.election.is_leader():
            log.debug("event=scheduler.job_skipped job=%s id=%s reason=follower", job.name, self.id)
            return
        job.run(JobContext(self.settings, self.client, self.id))
