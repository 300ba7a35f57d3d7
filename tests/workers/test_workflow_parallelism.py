"""mcp.agent.max_workers: the steps of a parallel group run at most that many at a time."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jobs import Job, JobClient
from jobs.connection import redis_client
from models import Task, db
from tests.harness import make_stdio_tool, wait_for

HANDOFF = timedelta(seconds=0.1)  # each step lasts 0.3 s
GROUP = {"steps": [{"parallel": [
    {"id": f"s{n}", "tool": "echo", "call": "slow", "arguments": {"steps": 2, "delay": 0.15}} for n in range(3)]}]}


def step_intervals(run_id: str) -> list[tuple]:
    def rows():
        db.close()
        found = list(Task.select().where(Task.parent_id == run_id).order_by(Task.started_at))
        return found if len(found) == 3 else None
    return [(task.started_at, task.finished_at) for task in wait_for(rows)]


@pytest.mark.parametrize("max_workers, overlapping", [(1, False), (8, True)])
def test_given_max_workers_then_a_parallel_group_runs_that_many_steps_at_once(
        settings, database, start_worker_for, run_job_for, max_workers, overlapping):
    # Given a worker whose workflows may run `max_workers` steps at once, and a running echo tool
    start_worker_for(settings, {"MCPS_MCP__AGENT__MAX_WORKERS": str(max_workers)})
    tool = make_stdio_tool("echo", "echo_server.py")
    assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"

    # When a run has a group of three slow steps
    jobs = JobClient.from_settings(settings, redis_client(settings))
    run = Job(kind="workflow_run", args={"definition": GROUP, "tool_ids": {"echo": tool.id}})
    jobs.submit(run)
    assert jobs.wait(run.id, 30)["status"] == "succeeded"

    # Then the steps overlapped only when more than one may run at once
    spans = step_intervals(run.id)
    # (a step's row is finished a moment after its reply, when the next one may already have started)
    overlaps = any(later_start < earlier_end - HANDOFF for (_, earlier_end), (later_start, _) in zip(spans, spans[1:]))
    assert overlaps is overlapping
