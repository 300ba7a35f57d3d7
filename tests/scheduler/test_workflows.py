"""Scheduled workflows: the leader enqueues one run per cron fire time, never twice, and only while the
workflow's owner exists and may call every step's tool (the owner's rights when the run fires)."""
from datetime import datetime, timezone

import pytest

from models import Task, Tool, User
from scheduler.jobs import JobContext
from scheduler.workflows import due_fire_times, start_scheduled_workflows
from jobs.connection import redis_client


def test_given_a_cron_when_a_window_is_asked_then_the_fire_times_inside_it():
    since = datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc)
    now = datetime(2026, 1, 1, 12, 3, 0, tzinfo=timezone.utc)

    times = due_fire_times("* * * * *", since, now)

    assert [t.minute for t in times] == [1, 2, 3]


def every_minute_workflow(owner_id: int) -> Task:
    tool = Tool.create(name="t", transport="stdio", command="uvx")
    return Task.create(id="wf1", kind="workflow", status="created", name="every minute", schedule="* * * * *",
                       definition={"steps": [{"id": "a", "tool": "t", "call": "c"}]}, user_id=owner_id), tool


def test_given_a_due_workflow_when_ticked_twice_then_one_run_per_fire_time(settings, database):
    owner = User.create(username="olga", password_hash="x", role="operator")
    _workflow, tool = every_minute_workflow(owner.id)
    context = JobContext(settings, redis_client(settings), "leader-1")

    first = start_scheduled_workflows(context)
    second = start_scheduled_workflows(context)

    assert first >= 1 and second == 0
    runs = list(Task.select().where(Task.parent_id == "wf1"))
    assert len(runs) == first and all(run.kind == "workflow_run" and run.status == "queued" for run in runs)
    assert all(run.args["tool_ids"] == {"t": tool.id} for run in runs)  # the worker runs these ids


@pytest.mark.parametrize("owner_fields", [None, {"role": "viewer"}, {"is_active": False}],
                         ids=["owner deleted", "owner demoted to viewer", "owner disabled"])
def test_given_an_owner_who_may_no_longer_run_it_when_due_then_no_run(settings, database, owner_fields):
    # Given a scheduled workflow whose owner was deleted (their id free for the next user), demoted or disabled
    owner = User.create(username="olga", password_hash="x", role="operator")
    every_minute_workflow(owner.id)
    if owner_fields is None:
        owner.delete_instance()
    else:
        User.update(**owner_fields).where(User.id == owner.id).execute()

    # When the scheduler ticks
    started = start_scheduled_workflows(JobContext(settings, redis_client(settings), "leader-1"))

    # Then nothing runs in their name
    assert started == 0 and Task.select().where(Task.parent_id == "wf1").count() == 0
