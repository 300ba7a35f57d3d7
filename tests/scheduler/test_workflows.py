"""Scheduled workflows: the leader enqueues one run per cron fire time, never twice."""
from datetime import datetime, timezone

from models import Task
from scheduler.jobs import JobContext
from scheduler.workflows import due_fire_times, start_scheduled_workflows
from jobs.connection import redis_client


def test_given_a_cron_when_a_window_is_asked_then_the_fire_times_inside_it():
    since = datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc)
    now = datetime(2026, 1, 1, 12, 3, 0, tzinfo=timezone.utc)

    times = due_fire_times("* * * * *", since, now)

    assert [t.minute for t in times] == [1, 2, 3]


def test_given_a_due_workflow_when_ticked_twice_then_one_run_per_fire_time(settings, database):
    Task.create(id="wf1", kind="workflow", status="created", name="every minute", schedule="* * * * *",
                definition={"steps": [{"id": "a", "tool": "t", "call": "c"}]}, user_id=1)
    context = JobContext(settings, redis_client(settings), "leader-1")

    first = start_scheduled_workflows(context)
    second = start_scheduled_workflows(context)

    assert first >= 1 and second == 0
    runs = list(Task.select().where(Task.parent_id == "wf1"))
    assert len(runs) == first and all(run.kind == "workflow_run" and run.status == "queued" for run in runs)
