"""The issue's "done when", each with real scheduler and worker processes and short intervals: a scheduled
backup is valid and restoring it brings back data deleted after it (SQLite and PostgreSQL); scheduled
retention deletes old rows of each kind and rolls old metric samples up, each counted once; a scheduled
health probe finds a tool frozen with SIGSTOP and restarts it."""
from __future__ import annotations

import gzip
import os
import signal
import sqlite3
from datetime import timedelta

import pytest

from jobs import JobClient
from jobs.connection import redis_client
from models import LogEntry, MetricRollup, MetricSample, Task, Tool, db, utcnow
from models.backups import backup_path
from scheduler.maintenance import enqueue_maintenance
from tests.api.e2e import process_gone
from tests.conftest import bind_fresh_database
from tests.harness import make_stdio_tool, wait_for
from tests.scheduler.test_maintenance import scheduled_runs

ONLY = {"MCPS_DATA__BACKUP__ENABLED": "false", "MCPS_DATA__CLEANUP__ENABLED": "false",
        "MCPS_FEATURES__MONITORING": "false"}  # every maintenance job off; each test switches its own on


@pytest.fixture(params=["sqlite", "postgres"])
def engine_settings(request, make_settings):
    """Settings on SQLite or on this run's PostgreSQL database, its tables migrated and empty."""
    url = request.getfixturevalue("postgres_database") if request.param == "postgres" else None
    settings = make_settings(**({"database.url": url} if url else {}))
    database = bind_fresh_database(settings)
    yield settings
    database.close()


def succeeded(kind: str) -> list[Task]:
    return [task for task in scheduled_runs(kind) if task.status == "succeeded"]


def test_given_scheduled_backups_when_one_is_restored_then_the_data_deleted_after_it_is_back(
        engine_settings, start_worker_for, start_scheduler_for, tmp_path):
    settings = engine_settings
    # Given a tool, a worker and a scheduler taking a backup every second
    Tool.create(name="kept", transport="stdio", command="uvx")
    db.close()
    start_worker_for(settings)
    scheduler = start_scheduler_for(settings, **{**ONLY, "MCPS_DATA__BACKUP__ENABLED": "true",
                                                 "MCPS_DATA__BACKUP__SCHEDULE": "every 1s"})

    # When a scheduled backup was taken
    run = wait_for(lambda: succeeded("backup"), timeout=60)[0]
    scheduler.terminate()
    scheduler.wait(10)
    assert run.args["trigger"] == "schedule"
    backup = backup_path(settings, run.result["backup"]["name"])

    # Then it is a valid gzipped backup of the database holding the tool
    content = gzip.decompress(backup.path.read_bytes())
    if backup.engine == "sqlite":
        copy = tmp_path / "copy.db"
        copy.write_bytes(content)
        with sqlite3.connect(copy) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert check.execute("SELECT name FROM tool").fetchall() == [("kept",)]
    else:
        assert b"CREATE TABLE public.tool" in content and b"kept" in content

    # When the tool is deleted and another created, then the backup restored by a worker
    Tool.delete().execute()
    Tool.create(name="later", transport="stdio", command="uvx")
    db.close()
    jobs = JobClient.from_settings(settings, redis_client(settings))
    restore = enqueue_maintenance(jobs, "restore", "restore", "manual", args={"name": backup.name})
    assert jobs.wait(restore.id, 120)["status"] == "succeeded"

    # Then the database is as it was at the backup
    db.close()
    assert [tool.name for tool in Tool.select()] == ["kept"]


def test_given_old_rows_when_retention_is_due_then_scheduled_runs_delete_and_roll_up_each_once(
        settings, database, start_worker_for, start_scheduler_for):
    # Given old and recent rows of several kinds, and samples of an hour two days back
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(hours=1)
    hour = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for at in (old, old, old, recent):
        LogEntry.create(category="mcp", message="line", created_at=at)
        MetricSample.create(source="host", data={"cpu_percent": 1}, created_at=at)
    Task.create(id="old-done", kind="call", status="succeeded", created_at=old)
    MetricSample.insert_many([{"source": "host", "data": {"cpu_percent": m}, "created_at": hour + timedelta(minutes=m)}
                              for m in range(60)]).execute()
    db.close()

    # When a worker and a scheduler running retention every second have run it a few times
    start_worker_for(settings)
    start_scheduler_for(settings, **{**ONLY, "MCPS_DATA__CLEANUP__ENABLED": "true",
                                     "MCPS_DATA__CLEANUP__SCHEDULE": "every 1s"})
    runs = wait_for(lambda: (lambda done: done if len(done) >= 3 else None)(succeeded("retention")), timeout=60)

    # Then between them every old row was deleted and counted once, and the old hour rolled up once
    assert sum(run.result["deleted"]["logs"] for run in runs) == 3
    assert sum(run.result["deleted"]["metric_samples"] for run in runs) == 3
    assert sum(run.result["deleted"]["tasks"] for run in runs) == 1
    assert sum(run.result["rolled_up"]["samples"] for run in runs) == 60
    assert all(run.args["trigger"] == "schedule" for run in runs)
    db.close()
    (rollup,) = MetricRollup.select()
    assert (rollup.hour, rollup.samples, rollup.data["cpu_percent"], rollup.maxima["cpu_percent"]) == (hour, 60, 29.5, 59)
    assert LogEntry.select().where(LogEntry.category == "mcp").count() == 1
    assert MetricSample.select().count() == 1 and Task.get_or_none(Task.id == "old-done") is None


def test_given_a_tool_frozen_with_sigstop_when_probes_are_due_then_a_scheduled_probe_restarts_it(
        settings, database, start_worker_for, start_scheduler_for, run_job_for):
    # Given a worker (pings time out after 1 s, 2 failures make a tool unhealthy) and a running tool
    start_worker_for(settings, {"MCPS_MONITORING__PROBE_TIMEOUT_S": "1", "MCPS_MONITORING__PROBE_FAILURES": "2"})
    tool = make_stdio_tool("echo", "echo_server.py")
    assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"
    pid = wait_for(lambda: (db.close(), Tool.get_by_id(tool.id))[1].pid)

    # When its server is frozen, and a scheduler probes every 2 s
    os.kill(pid, signal.SIGSTOP)
    try:
        start_scheduler_for(settings, **{**ONLY, "MCPS_FEATURES__MONITORING": "true",
                                         "MCPS_MONITORING__PROBE_INTERVAL_S": "2"})

        # Then a scheduled probe round restarts it: a new process runs it, the frozen one is gone
        def restarted():
            db.close()
            row = Tool.get_by_id(tool.id)
            return row.status == "RUNNING" and row.pid not in (None, pid)
        wait_for(restarted, timeout=90)
        wait_for(lambda: process_gone(pid), timeout=30)
        rounds = succeeded("health_probe")
        assert any("echo" in run.result["restarted"] for run in rounds)
        assert all(run.args["trigger"] == "schedule" for run in rounds)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
