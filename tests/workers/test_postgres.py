"""The job path on PostgreSQL (DATABASE_URL): lifecycle, a call, and its task row and history written
by the worker's batched upserts."""
import pytest

from models import Message, Task, Tool
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
