"""The job path on PostgreSQL (DATABASE_URL): lifecycle, a call, and its task row and history written
by the worker's batched upserts; every job thread getting a connection; and the same after every
connection was dropped (what a PostgreSQL restart does to its clients)."""
import time

import pytest

from models import Message, Task, Tool, db
from tests.conftest import bind_fresh_database
from tests.harness import make_stdio_tool, wait_for


@pytest.fixture
def pg_settings(make_settings, postgres_database):
    settings = make_settings(**{"database.url": postgres_database})
    database = bind_fresh_database(settings)
    yield settings
    database.close()


def test_given_postgresql_when_a_tool_is_started_and_called_then_rows_are_written(
        pg_settings, start_worker_for, run_job_for):
    start_worker_for(pg_settings)
    tool = make_stdio_tool("legacy", "legacy_server.py")

    assert run_job_for(pg_settings, "start", tool.id)["status"] == "succeeded"
    outcome = run_job_for(pg_settings, "call", tool.id, user_id=7, tool="echo", arguments={"text": "pg"})

    assert outcome["result"]["content"][0]["text"] == "legacy:pg"
    assert Tool.get_by_id(tool.id).status == "RUNNING"
    tasks = wait_for(lambda: list(Task.select().where(Task.tool_id == tool.id).order_by(Task.created_at)))
    wait_for(lambda: Task.select().where(Task.tool_id == tool.id).count() == 2)
    assert {t.kind for t in Task.select().where(Task.tool_id == tool.id)} == {"start", "call"}
    assert tasks[0].status == "succeeded"
    message = wait_for(lambda: Message.get_or_none(Message.tool_id == tool.id))
    assert message.arguments == {"text": "pg"} and message.session.is_auto and message.session.user_id == 7
    assert run_job_for(pg_settings, "stop", tool.id)["status"] == "succeeded"


def test_given_postgresql_when_lifecycle_jobs_run_on_every_job_thread_then_none_waits_for_a_connection(
        pg_settings, start_worker_for, run_job_for):
    # 8 job threads + heartbeat + bookkeeper + main thread use the database: more than the pool's 10.
    start_worker_for(pg_settings)
    tool = make_stdio_tool("legacy", "legacy_server.py")

    lifecycle = [run_job_for(pg_settings, kind, tool.id) for _ in range(15) for kind in ("start", "stop")]

    assert [job["status"] for job in lifecycle] == ["succeeded"] * 30, [job.get("error") for job in lifecycle]


@pytest.fixture
def running_tool_after_termination(pg_settings, postgres_database, start_worker_for, run_job_for,
                                   terminate_postgres_backends):
    """A worker with a running tool, one call recorded, then every connection to the database dropped (as a
    PostgreSQL restart drops them): the bookkeeper's, the heartbeat's, the job threads', the test's."""
    start_worker_for(pg_settings)
    tool = make_stdio_tool("legacy", "legacy_server.py")
    assert run_job_for(pg_settings, "start", tool.id)["status"] == "succeeded"
    assert run_job_for(pg_settings, "call", tool.id, user_id=7, tool="echo", arguments={"text": "before"})
    wait_for(lambda: Message.select().where(Message.tool_id == tool.id).count() == 1)
    time.sleep(1.5 * pg_settings.mcp.worker.heartbeat_ms / 1000)  # the heartbeat has read the database too
    db.close()
    assert terminate_postgres_backends(postgres_database) >= 2
    return tool


def test_given_postgresql_when_every_connection_is_terminated_then_later_jobs_are_still_recorded(
        pg_settings, running_tool_after_termination, run_job_for):
    tool = running_tool_after_termination

    calls = [run_job_for(pg_settings, "call", tool.id, user_id=7, tool="echo", arguments={"text": f"after{n}"})
             for n in range(3)]
    # Lifecycle jobs read the database on whichever of the worker's 8 threads takes them: enough for each.
    lifecycle = [run_job_for(pg_settings, kind, tool.id) for _ in range(8) for kind in ("stop", "start")]

    assert [call["result"]["content"][0]["text"] for call in calls] == [f"legacy:after{n}" for n in range(3)]
    assert [job["status"] for job in lifecycle] == ["succeeded"] * 16, [job.get("error") for job in lifecycle]
    wait_for(lambda: Task.select().where(Task.tool_id == tool.id).count() == 2 + 3 + 16, timeout=20)
    assert {t.status for t in Task.select().where(Task.tool_id == tool.id)} == {"succeeded"}
    wait_for(lambda: Message.select().where(Message.tool_id == tool.id).count() == 4, timeout=20)
    assert sorted(m.arguments["text"] for m in Message.select().where(Message.tool_id == tool.id)) == [
        "after0", "after1", "after2", "before"]
    assert Tool.get_by_id(tool.id).status == "RUNNING"
    assert run_job_for(pg_settings, "stop", tool.id)["status"] == "succeeded"


def test_given_postgresql_when_every_connection_is_terminated_then_the_heartbeat_still_takes_over_tools(
        pg_settings, running_tool_after_termination, run_job_for):
    # A tool wanted running and owned by no one: the worker's heartbeat takes it over (it reads the database).
    orphan = make_stdio_tool("orphan", "legacy_server.py", desired_state="running")

    assert wait_for(lambda: Tool.get_by_id(orphan.id).status == "RUNNING", timeout=15)
    assert run_job_for(pg_settings, "stop", orphan.id)["status"] == "succeeded"
    assert run_job_for(pg_settings, "stop", running_tool_after_termination.id)["status"] == "succeeded"
