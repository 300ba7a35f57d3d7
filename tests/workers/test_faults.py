"""Faults are expected events: Redis restarting under a running worker (on the embedded Redis)."""
import signal
import time

import pytest

from models import Tool
from tests.harness import WorkerProcess, make_stdio_tool, wait_for
from workers.embedded_redis import start_embedded_redis
from jobs import Job, JobClient, JobError
from jobs.connection import redis_client, wait_for_redis


@pytest.fixture
def embedded_settings(make_settings, tmp_path):
    settings = make_settings(**{"redis.url": f"unix://{tmp_path}/redis.sock"})
    assert settings.redis.url.startswith("unix://")
    return settings


def test_given_a_running_tool_when_redis_restarts_then_calls_work_again(embedded_settings):
    from tests.conftest import bind_fresh_database

    redis_server = start_embedded_redis(embedded_settings)
    worker = None
    try:
        client = redis_client(embedded_settings)
        wait_for_redis(client)
        bind_fresh_database(embedded_settings)
        worker = WorkerProcess(embedded_settings)
        worker.wait_ready()
        jobs = JobClient.from_settings(embedded_settings, client)
        tool = make_stdio_tool("legacy", "legacy_server.py")
        assert jobs.run(Job(kind="start", tool_id=tool.id), 30)["status"] == "succeeded"
        pid = Tool.get_by_id(tool.id).pid

        redis_server.send_signal(signal.SIGKILL)
        redis_server.wait()
        time.sleep(1)
        redis_server = start_embedded_redis(embedded_settings)
        wait_for_redis(client)

        def call_answers():
            try:
                event = jobs.run(Job(kind="call", tool_id=tool.id, args={"tool": "echo", "arguments": {"text": "x"}}),
                                 2)
            except JobError:
                return False
            return event.get("status") == "succeeded" and event
        event = wait_for(call_answers, timeout=20)
        assert event["result"]["content"][0]["text"] == "legacy:x"
        assert Tool.get_by_id(tool.id).pid == pid  # the session survived: the tool was not restarted
    finally:
        if worker is not None:
            worker.stop()
        redis_server.kill()
        redis_server.wait()
