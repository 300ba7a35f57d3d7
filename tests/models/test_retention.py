"""Retention deletes what is older than its setting, in batches, on SQLite and PostgreSQL, and counts it."""
from __future__ import annotations

import os
import time
from datetime import timedelta

from models import LogEntry, Message, MetricSample, Session, Task, utcnow
from models.backups import temp_dir
from models.retention import delete_in_batches, run_retention


def test_given_old_and_recent_rows_of_each_kind_when_retention_runs_then_old_ones_go_and_are_counted(
        any_database, make_settings):
    # Given batches smaller than what there is to delete, and rows on both sides of every cutoff
    settings = make_settings(**{"data.cleanup.batch_size": 2, "logging.retention_days": 7,
                                "data.cleanup.history_days": 30, "data.cleanup.tasks_days": 30,
                                "data.cleanup.sessions_days": 30, "monitoring.keep_days": 30,
                                "data.cleanup.temp_files_hours": 24})
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    for at in (old, old, old, recent):
        LogEntry.create(category="mcp", message="line", created_at=at)
        MetricSample.create(source="host", data={"cpu_percent": 1}, created_at=at)
    active = Session.create(user_id=1, last_activity_at=recent)
    idle = Session.create(user_id=1, last_activity_at=old)
    for session in (active, idle):
        Message.create(session=session, status="succeeded", created_at=old)
        Message.create(session=session, status="succeeded", created_at=recent)
    Task.create(id="old-done", kind="call", status="succeeded", created_at=old)
    Task.create(id="old-queued", kind="call", status="queued", created_at=old)  # not finished: kept
    Task.create(id="workflow", kind="workflow", status="created", created_at=old)  # a definition: kept
    Task.create(id="new-done", kind="call", status="failed", created_at=recent)
    scratch = temp_dir(settings)
    (scratch / "stale.partial").write_text("x")
    os.utime(scratch / "stale.partial", (time.time() - 25 * 3600,) * 2)
    (scratch / "fresh.partial").write_text("x")

    # When retention runs
    counts = run_retention(settings, now)

    # Then each kind lost exactly its old rows, and says how many
    assert counts == {"logs": 3, "metric_samples": 3, "metric_rollups": 0, "history": 3, "tasks": 1, "sessions": 1,
                      "temp_files": 1}
    assert LogEntry.select().count() == 1 and MetricSample.select().count() == 1
    assert [s.id for s in Session.select()] == [active.id]
    assert [m.created_at for m in Message.select()] == [recent]
    assert sorted(t.id for t in Task.select()) == ["new-done", "old-queued", "workflow"]
    assert [p.name for p in scratch.iterdir()] == ["fresh.partial"]


def test_given_more_rows_than_a_batch_then_all_are_deleted_batch_by_batch(any_database):
    LogEntry.insert_many([{"category": "mcp", "message": str(i), "created_at": utcnow()} for i in range(25)]).execute()

    assert delete_in_batches(LogEntry, LogEntry.category == "mcp", batch_size=10) == 25
    assert LogEntry.select().count() == 0
