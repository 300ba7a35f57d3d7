"""Faults of the MCP server itself: killed during calls (b), hung on a call or on `initialize` (d), exiting
during its handshake (f). Every caller reads a clear error from the REST API within its timeout."""
import os
import signal
import threading
import time

import pytest

from models import LogEntry, Tool
from tests.faults.conftest import FAULT_SETTINGS, rest_operator
from tests.harness import make_stdio_tool, wait_for


def count(calls_file, name: str) -> int:
    return calls_file.read_text().splitlines().count(name) if calls_file.exists() else 0


@pytest.fixture
def echo(fault_settings, database, start_workers, operator, tmp_path):
    """A running echo tool (counting its executions in tool.calls_file), on one worker, started through the API."""
    start_workers(fault_settings)
    client, headers = operator
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(tmp_path / "calls.txt")})
    response = client.post(f"/api/v1/tools/{tool.id}/start?wait=true", headers=headers)
    assert response.status_code == 200, response.json
    tool.calls_file = tmp_path / "calls.txt"
    return Tool.get_by_id(tool.id), tool.calls_file


def call(client, headers, tool_id, name, **body):
    return client.post(f"/api/v1/tools/{tool_id}/call", headers=headers, json={"tool": name, **body})


def test_given_calls_in_flight_when_the_server_is_killed_then_connection_lost_and_it_restarts(echo, operator):
    # Given a running server with two slow calls in flight
    (tool, calls_file), (client, headers) = echo, operator
    answers = []

    def slow_call() -> None:
        started = time.monotonic()
        response = call(client, headers, tool.id, "slow", arguments={"steps": 100, "delay": 0.1}, timeout=20)
        answers.append((response, time.monotonic() - started))
    callers = [threading.Thread(target=slow_call) for _ in range(2)]
    for caller in callers:
        caller.start()
    wait_for(lambda: count(calls_file, "slow") == 2, timeout=10)

    # When its process is killed with SIGKILL
    os.kill(tool.pid, signal.SIGKILL)
    for caller in callers:
        caller.join(10)

    # Then both callers hear connection_lost (503) at once, not after their 20 s
    assert [response.status_code for response, _ in answers] == [503, 503], [r.json for r, _ in answers]
    assert {response.json["errors"]["error_type"] for response, _ in answers} == {"connection_lost"}
    assert max(seconds for _, seconds in answers) < 5
    # and the server is restarted after its back-off, and later calls succeed
    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "RUNNING" and r.pid != tool.pid and r, timeout=10)
    assert row.restart_count == 1
    assert LogEntry.select().where(LogEntry.tool_id == tool.id, LogEntry.message.startswith("restarting in")).exists()
    response = call(client, headers, tool.id, "echo", arguments={"text": "again"})
    assert response.status_code == 200 and response.json["content"][0]["text"] == "again"
    # and nothing ran twice
    assert count(calls_file, "slow") == 2 and count(calls_file, "echo") == 1


def test_given_a_call_the_server_never_answers_when_its_timeout_passes_then_504_and_the_server_cancels_it(
        echo, operator):
    (tool, calls_file), (client, headers) = echo, operator

    started = time.monotonic()
    response = call(client, headers, tool.id, "hang", arguments={}, timeout=1.5)
    elapsed = time.monotonic() - started

    assert response.status_code == 504, response.json
    assert response.json["errors"]["error_type"] == "timeout"
    assert 1.5 <= elapsed < 3
    # the server was sent notifications/cancelled: its handler was cancelled
    wait_for(lambda: count(calls_file, "cancel-received") == 1, timeout=5)
    assert count(calls_file, "hang") == 1
    # and it keeps serving
    assert call(client, headers, tool.id, "echo", arguments={"text": "x"}).status_code == 200


def test_given_a_server_that_never_answers_initialize_when_started_then_start_failed_within_start_timeout(
        make_settings, database, start_workers, tmp_path):
    settings = make_settings(**{**FAULT_SETTINGS, "mcp.tools.start_timeout_s": 2})
    start_workers(settings)
    client, headers = rest_operator(settings)
    tool = make_stdio_tool("silent", "silent_server.py", restart_on_failure=False)

    started = time.monotonic()
    response = client.post(f"/api/v1/tools/{tool.id}/start?wait=true", headers=headers)
    elapsed = time.monotonic() - started

    assert response.status_code == 502, response.json
    assert response.json["errors"]["error_type"] == "start_failed"
    assert "did not answer the MCP handshake within 2 s" in response.json["message"]
    assert elapsed < 2 + 2
    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "ERROR" and r, timeout=5)
    assert row.pid is None  # its process was stopped (the census checks it is gone)


def test_given_a_server_that_exits_during_its_handshake_when_started_then_start_failed_with_its_stderr(
        fault_settings, database, start_workers, operator):
    start_workers(fault_settings)
    client, headers = operator
    tool = make_stdio_tool("quitter", "handshake_exit_server.py", max_restart_attempts=1)

    started = time.monotonic()
    response = client.post(f"/api/v1/tools/{tool.id}/start?wait=true", headers=headers)

    assert response.status_code == 502, response.json
    assert response.json["errors"]["error_type"] == "start_failed"
    assert "licence check failed during the handshake" in response.json["message"]
    assert time.monotonic() - started < 5
    row = Tool.get_by_id(tool.id)
    assert row.status == "ERROR" and row.restart_count == 1
    assert "licence check failed" in row.last_error
