"""Maintenance on a schedule, with real scheduler and worker processes and short intervals: each fire
time enqueues one job, recorded as a task; two schedulers fire it once; a killed leader's successor
misses no fire time."""
from __future__ import annotations

from datetime import datetime, timedelta

from models import Task, db
from models.backups import list_backups
from scheduler.jobs import periodic_jobs
from scheduler.leader import current_leader
from scheduler.runner import latest_fire_time
from jobs.connection import redis_client
from tests.harness import wait_for


def scheduled_runs(kind: str) -> list[Task]:
    db.close()  # a fresh read of what other processes wrote
    return list(Task.select().where(Task.kind == kind).order_by(Task.created_at))


def test_given_config_then_maintenance_jobs_take_their_schedule_and_switch(make_settings):
    settings = make_settings(**{"data.backup.schedule": "every 5m", "data.cleanup.enabled": False})

    jobs = {job.name: job for job in periodic_jobs(settings)}

    assert jobs["backup"].trigger.interval == timedelta(minutes=5) and jobs["backup"].enabled
    assert jobs["retention"].enabled is False and jobs["retention"].kind == "retention"


def test_given_a_cron_trigger_then_the_latest_fire_time_is_the_last_one_before_now(settings):
    backup = {job.name: job for job in periodic_jobs(settings)}["backup"]  # 0 3 * * *
    now = datetime.fromisoformat("2026-03-01T03:00:20+00:00")

    assert latest_fire_time(backup.trigger, now, 30) == datetime.fromisoformat("2026-03-01T03:00:00+00:00")
    assert latest_fire_time(backup.trigger, now + timedelta(minutes=1), 30) is None


def test_given_a_scheduler_and_a_worker_when_backups_are_due_then_each_run_is_a_task_and_a_file(
        settings, database, start_worker, start_scheduler):
    # Given a worker, and a scheduler taking a backup every second
    start_worker()
    start_scheduler(MCPS_DATA__BACKUP__SCHEDULE="every 1s", MCPS_DATA__CLEANUP__ENABLED="false")

    # When a few runs are due
    wait_for(lambda: sum(t.status == "succeeded" for t in scheduled_runs("backup")) >= 3, timeout=30)

    # Then each is a succeeded task naming its backup, and the backups are there
    runs = [t for t in scheduled_runs("backup") if t.status == "succeeded"]
    assert all(t.args["trigger"] == "schedule" and t.duration_ms is not None for t in runs)
    names = {b.name for b in list_backups(settings)}
    assert {t.result["backup"]["name"] for t in runs} <= names


def test_given_two_schedulers_when_the_leader_is_killed_then_every_fire_time_runs_exactly_once(
        settings, database, start_scheduler):
    # Given two schedulers enqueuing retention every second (no worker: the queued tasks are the record)
    env = {"MCPS_DATA__CLEANUP__SCHEDULE": "every 1s", "MCPS_DATA__BACKUP__ENABLED": "false"}
    processes = {p.pid: p for p in (start_scheduler(**env), start_scheduler(**env))}
    client = redis_client(settings)
    leader = wait_for(lambda: current_leader(client, settings), timeout=15)
    wait_for(lambda: len(scheduled_runs("retention")) >= 3, timeout=15)

    # When the leader is killed, and the other has run a few times since
    processes[int(leader.split(":")[1])].kill()
    wait_for(lambda: (current_leader(client, settings) or leader) != leader, timeout=5)
    count = len(scheduled_runs("retention"))
    wait_for(lambda: len(scheduled_runs("retention")) >= count + 3, timeout=15)

    # Then every second between the first and the last run was run once: no duplicate, no gap
    fired = sorted(datetime.fromisoformat(t.args["scheduled_for"]) for t in scheduled_runs("retention"))
    assert len(fired) == len(set(fired)), "a fire time ran twice"
    seconds = [(later - earlier).total_seconds() for earlier, later in zip(fired, fired[1:])]
    assert set(seconds) == {1.0}, f"a fire time was missed: {seconds}"
