"""/api/v1/tasks end to end: every job as a task, its live events (SSE) and cancellation, against a real
worker and real MCP servers."""
from __future__ import annotations

import json

import pytest

from api.extensions import REDIS_KEY
from models import Task
from tests.api.e2e import TASKS, TOOLS, create_tool, stdio_body, wait_task
from tests.harness import wait_for
from jobs import stream


def call_async(client, headers, tool_ref, tool, arguments=None, **body) -> str:
    response = client.post(f"{TOOLS}/{tool_ref}/call?async=true", headers=headers,
                           json={"tool": tool, "arguments": arguments or {}, **body})
    assert response.status_code == 202, response.json
    return response.json["task_id"]


def sse_events(response) -> list[tuple[str, dict]]:
    """(event name, data) of every event of a text/event-stream body (keep-alive comments skipped)."""
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            events.append((fields.get("event"), json.loads(fields["data"])))
    return events


def test_given_an_async_call_when_its_task_is_read_then_queued_row_then_final_result(client, operator, legacy_tool):
    task_id = call_async(client, operator, "legacy", "echo", {"text": "t"})

    task = wait_task(client, operator, task_id)
    status = client.get(f"{TASKS}/{task_id}/status", headers=operator).json

    assert task["kind"] == "call" and task["tool_id"] == legacy_tool["id"] and task["status"] == "succeeded"
    assert task["result"]["content"][0]["text"] == "legacy:t" and task["args"]["arguments"] == {"text": "t"}
    assert status["id"] == task_id and status["status"] == "succeeded" and "result" not in status
    row = wait_for(lambda: Task.get_or_none((Task.id == task_id) & (Task.status == "succeeded")))
    assert row.worker_id and row.duration_ms > 0 and row.finished_at is not None


def test_given_tasks_when_listed_then_newest_first_filtered_by_kind_and_tool(client, operator, legacy_tool):
    call_task = call_async(client, operator, "legacy", "echo", {"text": "t"})
    wait_task(client, operator, call_task)

    everything = client.get(TASKS, headers=operator).json
    calls = client.get(f"{TASKS}?kind=call&tool_id={legacy_tool['id']}", headers=operator).json
    # (a list reads the rows, which the worker's bookkeeper writes just after each reply)
    starts = wait_for(lambda: (body := client.get(f"{TASKS}?kind=start", headers=operator).json)["items"]
                      and body["items"][0]["status"] == "succeeded" and body)

    assert [t["kind"] for t in everything["items"]] == ["call", "start"]
    assert [t["id"] for t in calls["items"]] == [call_task]
    assert starts["total"] == 1 and starts["items"][0]["status"] == "succeeded"


def test_given_another_users_task_when_a_viewer_reads_it_then_404(client, operator, viewer, legacy_tool):
    task_id = call_async(client, operator, "legacy", "echo", {"text": "private"})
    wait_task(client, operator, task_id)

    assert client.get(f"{TASKS}/{task_id}", headers=viewer).status_code == 404
    assert client.get(f"{TASKS}/{task_id}/events", headers=viewer).status_code == 404
    assert client.get(TASKS, headers=viewer).json["total"] == 0


def test_given_an_unknown_task_then_404(client, viewer):
    assert client.get(f"{TASKS}/nope", headers=viewer).status_code == 404
    assert client.get(f"{TASKS}/nope/events", headers=viewer).status_code == 404


def test_given_a_slow_call_when_its_events_are_streamed_then_progress_then_the_result(client, operator, echo_tool):
    task_id = call_async(client, operator, "echo", "slow", {"steps": 3, "delay": 0.05})

    response = client.get(f"{TASKS}/{task_id}/events", headers=operator)

    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = sse_events(response)
    assert [(name, e["progress"], e["total"]) for name, e in events if name == "progress"] == [
        ("progress", 1, 3), ("progress", 2, 3), ("progress", 3, 3)]
    name, result = events[-1]
    assert name == "result" and result["status"] == "succeeded"
    assert result["result"]["content"][0]["text"] == "done after 3 steps"


def test_given_a_finished_task_whose_stream_expired_when_events_are_read_then_its_result(
        client, operator, legacy_tool, app, settings):
    task_id = call_async(client, operator, "legacy", "echo", {"text": "old"})
    wait_for(lambda: Task.get_or_none((Task.id == task_id) & (Task.status == "succeeded")))
    app.extensions[REDIS_KEY].delete(stream.stream_key(settings, task_id))  # as after result_ttl_s

    response = client.get(f"{TASKS}/{task_id}/events", headers=operator)

    events = sse_events(response)
    assert [name for name, _ in events] == ["result"]
    assert events[0][1]["status"] == "succeeded" and events[0][1]["result"]["content"][0]["text"] == "legacy:old"


@pytest.fixture
def counting_echo_tool(client, admin, worker, tmp_path):
    """A running echo_server.py that appends the name of each call it receives to a file."""
    calls_file = tmp_path / "calls.txt"
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)}))
    assert client.post(f"{TOOLS}/{tool['id']}/start?wait=true", headers=admin).json["status"] == "succeeded"
    return calls_file


def test_given_a_hanging_call_when_cancelled_then_cancelled_and_the_tool_still_answers(
        client, operator, counting_echo_tool):
    task_id = call_async(client, operator, "echo", "hang")
    wait_for(lambda: counting_echo_tool.exists() and "hang" in counting_echo_tool.read_text())  # running

    response = client.post(f"{TASKS}/{task_id}/cancel", headers=operator)

    assert response.status_code == 202, response.json
    task = wait_task(client, operator, task_id)
    assert task["status"] == "cancelled" and task["error_type"] == "cancelled"
    answer = client.post(f"{TOOLS}/echo/call", headers=operator, json={"tool": "echo", "arguments": {"text": "ok"}})
    assert answer.status_code == 200 and answer.json["content"][0]["text"] == "ok"
    again = client.post(f"{TASKS}/{task_id}/cancel", headers=operator)
    assert again.status_code == 409 and "cancelled" in again.json["message"]


def test_given_a_viewer_when_cancelling_then_403(client, operator, viewer, legacy_tool):
    task_id = call_async(client, operator, "legacy", "echo", {"text": "x"})

    assert client.post(f"{TASKS}/{task_id}/cancel", headers=viewer).status_code == 403


def test_given_a_lifecycle_task_when_followed_then_its_events_end_with_the_result(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    accepted = client.post(f"{TOOLS}/{tool['id']}/start", headers=admin).json

    events = sse_events(client.get(accepted["links"]["events"], headers=admin))

    assert events[-1][0] == "result" and events[-1][1]["result"]["status"] == "RUNNING"


def test_given_an_api_key_scoped_to_another_tool_then_this_tools_tasks_are_hidden(client, admin, operator, legacy_tool):
    create_tool(client, admin, **stdio_body("other", "legacy_server.py"))
    task_id = call_async(client, operator, "legacy", "echo", {"text": "not yours"})
    wait_task(client, operator, task_id)
    key = client.post("/api/v1/auth/api-keys", headers=operator, json={"name": "agent", "tool_scope": ["other"]}).json
    as_key = {"X-API-Key": key["key"]}

    assert client.get(f"{TASKS}/{task_id}", headers=as_key).status_code == 404
    assert client.get(f"{TASKS}/{task_id}/events", headers=as_key).status_code == 404
    assert client.post(f"{TASKS}/{task_id}/cancel", headers=as_key).status_code == 404
    assert client.get(TASKS, headers=as_key).json["total"] == 0
    assert client.get(f"{TASKS}/{task_id}", headers=operator).status_code == 200


def test_given_a_call_whose_row_is_not_written_yet_when_read_then_the_stream_tells_args_and_created_at(
        client, operator, legacy_tool):
    # Given a finished call whose task row is not there (as in the moment between reply and bookkeeping)
    task_id = call_async(client, operator, "legacy", "echo", {"text": "early"})
    wait_for(lambda: Task.get_or_none((Task.id == task_id) & (Task.status == "succeeded")))
    Task.delete_by_id(task_id)

    # When it is read
    task = client.get(f"{TASKS}/{task_id}", headers=operator).json

    # Then the final event alone describes it fully
    assert task["status"] == "succeeded" and task["kind"] == "call" and task["tool_id"] == legacy_tool["id"]
    assert task["args"] == {"tool": "echo", "arguments": {"text": "early"}} and task["created_at"]
