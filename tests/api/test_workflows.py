"""Workflows (stored tasks with steps) and /mcp/agent/execute, run by a real worker on real servers."""
from __future__ import annotations

import json

import pytest

from models import Task
from tests.harness import wait_for
from tests.api.e2e import create_tool, stdio_body

TASKS = "/api/v1/tasks"
EXECUTE = "/api/v1/mcp/agent/execute"


@pytest.fixture
def legacy(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    assert client.post(f"/api/v1/tools/{tool['id']}/start?wait=true", headers=admin).json["status"] == "succeeded"
    return tool


def chain(text="x"):
    return [{"id": "first", "tool": "legacy", "call": "echo", "arguments": {"text": text}},
            {"parallel": [
                {"id": "whole", "name": "legacy__echo", "arguments": {"text": "${first.content.0.text}"}},
                {"id": "inside", "tool": "legacy", "call": "echo",
                 "arguments": {"text": "got ${first.content.0.text}!"}}]}]


def test_given_steps_when_executed_then_references_resolve_in_order_and_parallel(client, operator, legacy):
    reply = client.post(EXECUTE, headers=operator, json={"steps": chain()})

    assert reply.status_code == 200, reply.json
    steps = {step["id"]: step for step in reply.json["result"]["steps"]}
    assert reply.json["status"] == "succeeded"
    assert steps["first"]["result"]["content"][0]["text"] == "legacy:x"
    assert steps["whole"]["result"]["content"][0]["text"] == "legacy:legacy:x"
    assert steps["inside"]["result"]["content"][0]["text"] == "legacy:got legacy:x!"
    children = Task.select().where(Task.parent_id == reply.json["id"])
    assert wait_for(lambda: children.count() == 3)


def test_given_a_failing_step_then_the_run_fails_and_later_steps_do_not_run(client, operator, legacy):
    steps = [{"id": "bad", "tool": "legacy", "call": "no_such_tool"},
             {"id": "never", "tool": "legacy", "call": "echo", "arguments": {"text": "x"}}]

    reply = client.post(EXECUTE, headers=operator, json={"steps": steps})

    assert reply.json["status"] == "failed" and reply.json["error_type"] == "step_failed"
    assert [s["id"] for s in reply.json["result"]["steps"]] == ["bad"]


@pytest.mark.parametrize("steps, fragment", [
    ([{"id": "a", "tool": "nope", "call": "echo"}], "no tool nope"),
    ([{"id": "a", "tool": "legacy", "call": "echo", "arguments": {"text": "${later.x}"}}], "not an earlier step"),
    ([{"id": "a", "tool": "legacy"}], "needs `tool` and `call`"),
    ([{"id": "a", "tool": "legacy", "call": "echo", "colour": "red"}], "unknown keys colour"),
])
def test_given_an_invalid_definition_then_422_before_anything_runs(client, operator, legacy, steps, fragment):
    reply = client.post(EXECUTE, headers=operator, json={"steps": steps})

    assert reply.status_code == 422 and fragment in reply.json["message"]


def test_given_async_execute_then_events_stream_step_progress_then_the_result(client, operator, legacy):
    accepted = client.post(f"{EXECUTE}?async=true", headers=operator, json={"steps": chain("y")})
    assert accepted.status_code == 202

    body = client.get(f"{TASKS}/{accepted.json['task_id']}/events", headers=operator).get_data(as_text=True)

    events = [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]
    progress = [(e["step"], e["state"]) for e in events if e["type"] == "progress"]
    assert ("first", "started") in progress and ("inside", "finished") in progress
    assert events[-1]["type"] == "result" and events[-1]["status"] == "succeeded"


def test_given_a_stored_workflow_when_started_then_status_lists_each_step(client, operator, legacy):
    created = client.post(TASKS, headers=operator, json={"name": "echo chain", "definition": {"steps": chain()},
                                                          "schedule": "*/5 * * * *"})
    assert created.status_code == 201 and created.json["status"] == "created"
    workflow_id = created.json["id"]

    run = client.post(f"{TASKS}/{workflow_id}/start?wait=true", headers=operator)

    assert run.status_code == 200 and run.json["status"] == "succeeded"
    status = client.get(f"{TASKS}/{workflow_id}/status", headers=operator).json
    assert status["run_id"] == run.json["id"] and status["status"] == "succeeded"
    assert [s["id"] for s in status["steps"]] == ["first", "whole", "inside"]
    assert all(s["status"] == "succeeded" for s in status["steps"])


def test_given_a_stored_workflow_when_edited_then_validated_and_a_bad_cron_is_422(client, operator, legacy):
    workflow_id = client.post(TASKS, headers=operator, json={"name": "w", "definition": {"steps": chain()}}).json["id"]

    assert client.put(f"{TASKS}/{workflow_id}", headers=operator, json={"schedule": "every day"}).status_code == 422
    assert client.put(f"{TASKS}/{workflow_id}", headers=operator,
                      json={"definition": {"steps": [{"tool": "nope", "call": "x"}]}}).status_code == 422
    renamed = client.put(f"{TASKS}/{workflow_id}", headers=operator, json={"name": "renamed"})
    assert renamed.status_code == 200 and renamed.json["name"] == "renamed"
    assert client.delete(f"{TASKS}/{workflow_id}", headers=operator).status_code == 204


def test_given_a_call_job_when_started_as_a_workflow_then_409(client, operator, legacy):
    call = client.post(f"/api/v1/tools/{legacy['id']}/call?async=true", headers=operator,
                       json={"tool": "echo", "arguments": {"text": "x"}})

    assert client.post(f"{TASKS}/{call.json['task_id']}/start", headers=operator).status_code == 409


def test_given_a_running_workflow_when_stopped_then_cancelled_with_its_step(client, operator, admin, worker, tmp_path):
    calls = tmp_path / "calls.txt"  # the echo server writes each call's name when it begins
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls)}))
    client.post(f"/api/v1/tools/{tool['id']}/start?wait=true", headers=admin)
    workflow_id = client.post(TASKS, headers=operator, json={"name": "stuck", "definition": {"steps": [
        {"id": "wait", "tool": "echo", "call": "hang"},
        {"id": "after", "tool": "echo", "call": "echo", "arguments": {"text": "never"}}]}}).json["id"]
    run_id = client.post(f"{TASKS}/{workflow_id}/start", headers=operator).json["task_id"]
    wait_for(lambda: calls.exists() and "hang" in calls.read_text())  # the hang step is running

    assert client.post(f"{TASKS}/{workflow_id}/stop", headers=operator).status_code == 202

    final = wait_for(lambda: (t := client.get(f"{TASKS}/{run_id}", headers=operator).json)["status"]
                       in ("cancelled", "failed") and t)
    assert final["status"] == "failed" and final["error_type"] == "step_failed"
    assert [(s["id"], s["status"]) for s in final["result"]["steps"]] == [("wait", "cancelled")]
