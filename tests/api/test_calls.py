"""Calling tools over REST end to end: a real worker, real MCP servers (legacy_server.py where it is
enough, echo_server.py for structured output, tool errors, timeouts, resources and prompts)."""
from __future__ import annotations

import time

import pytest

from api.users.accounts import create_user
from models import Message, Session, Tool
from tests.api.e2e import TASKS, TOOLS, create_tool, stdio_body, wait_task
from tests.harness import wait_for


def call(client, headers, tool_ref, tool, arguments=None, query="", **body):
    return client.post(f"{TOOLS}/{tool_ref}/call{query}", headers=headers,
                       json={"tool": tool, "arguments": arguments or {}, **body})


def assert_error_shape(response, status, error_type):
    assert response.status_code == status, response.json
    assert set(response.json) >= {"code", "status", "message"} and response.json["code"] == status
    assert response.json["errors"]["error_type"] == error_type


# -- results -----------------------------------------------------------------------------------

def test_given_a_running_tool_when_called_then_its_result_with_timings_and_task_id(client, operator, legacy_tool):
    response = call(client, operator, "legacy", "echo", {"text": "hi"})

    assert response.status_code == 200, response.json
    body = response.json
    assert body["content"] == [{"type": "text", "text": "legacy:hi"}] and body["isError"] is False
    assert body["task_id"] and body["timings"]["total_ms"] > 0 and "run_ms" in body["timings"]
    assert wait_task(client, operator, body["task_id"])["status"] == "succeeded"
    # The task row is written by the worker just after the reply.
    task = wait_for(lambda: client.get(f"{TASKS}/{body['task_id']}", headers=operator).json.get("kind") and
                    client.get(f"{TASKS}/{body['task_id']}", headers=operator).json)
    assert task["kind"] == "call" and task["tool_id"] == legacy_tool["id"] and task["status"] == "succeeded"
    assert task["args"] == {"tool": "echo", "arguments": {"text": "hi"}}


def test_given_a_tool_with_structured_output_when_called_then_structured_content(client, operator, echo_tool):
    added = call(client, operator, "echo", "add", {"a": 2, "b": 3})
    failed = call(client, operator, "echo", "fail", {"reason": "nope"})

    assert added.status_code == 200, added.json
    assert added.json["structuredContent"] == {"total": 5} and added.json["isError"] is False
    assert failed.status_code == 200, failed.json  # a tool error is a result, not a platform failure
    assert failed.json["isError"] is True and "nope" in failed.json["content"][0]["text"]


def test_given_an_unknown_mcp_tool_when_called_then_the_servers_is_error_result(client, operator, echo_tool):
    """The Python SDK's MCPServer answers an unknown tool with an isError result, passed through as 200
    (a JSON-RPC error answer is a 502 server_error: see the resources test on the legacy server)."""
    response = call(client, operator, "echo", "no_such_tool")

    assert response.status_code == 200, response.json
    assert response.json["isError"] is True and "Unknown tool: no_such_tool" in response.json["content"][0]["text"]


def test_given_async_true_when_calling_then_202_and_the_task_holds_the_result(client, operator, legacy_tool):
    response = call(client, operator, "legacy", "echo", {"text": "later"}, query="?async=true")

    assert response.status_code == 202, response.json
    assert response.headers["Location"].endswith(f"/tasks/{response.json['task_id']}")
    task = wait_task(client, operator, response.json["task_id"])
    assert task["status"] == "succeeded" and task["result"]["content"][0]["text"] == "legacy:later"


def test_given_a_hanging_call_with_a_timeout_then_504_timeout(client, operator, echo_tool):
    started = time.monotonic()

    response = call(client, operator, "echo", "hang", timeout=0.5)

    assert_error_shape(response, 504, "timeout")
    assert time.monotonic() - started < 5
    assert call(client, operator, "echo", "echo", {"text": "after"}).json["content"][0]["text"] == "after"


def test_given_a_stopped_tool_when_called_then_409_tool_not_running(client, admin, operator, worker):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    response = call(client, operator, "legacy", "echo", {"text": "x"})

    assert_error_shape(response, 409, "tool_not_running")


def test_given_a_stopped_auto_start_tool_when_called_then_it_starts_and_answers(client, admin, operator, worker):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py", auto_start=True))

    response = call(client, operator, "legacy", "echo", {"text": "wake"})

    assert response.status_code == 200, response.json
    assert response.json["content"][0]["text"] == "legacy:wake"
    assert client.get(f"{TOOLS}/legacy/status", headers=operator).json["status"] == "RUNNING"


def test_given_a_call_with_bad_input_then_422(client, operator, legacy_tool):
    assert client.post(f"{TOOLS}/legacy/call", headers=operator, json={"arguments": {}}).status_code == 422
    assert call(client, operator, "legacy", "echo", extra=1).status_code == 422
    assert call(client, operator, "legacy", "echo", timeout=0).status_code == 422


def test_given_a_call_when_answered_then_recorded_in_the_callers_automatic_session(client, operator, legacy_tool):
    task_id = call(client, operator, "legacy", "echo", {"text": "remember"}).json["task_id"]

    message = wait_for(lambda: Message.get_or_none(Message.task_id == task_id))

    assert message.tool_name == "echo" and message.session.is_auto and message.status == "succeeded"
    assert message.user_id == message.session.user_id and "legacy:remember" in message.result_summary


# -- resources and prompts ---------------------------------------------------------------------

def test_given_a_server_with_resources_and_prompts_then_listed_read_and_got(client, operator, viewer, echo_tool):
    resources = client.get(f"{TOOLS}/echo/resources", headers=viewer)
    read = client.post(f"{TOOLS}/echo/resources/read", headers=operator, json={"uri": "memo://greeting"})
    prompts = client.get(f"{TOOLS}/echo/prompts", headers=viewer)
    prompt = client.post(f"{TOOLS}/echo/prompts/get", headers=operator,
                         json={"name": "review", "arguments": {"code": "x = 1"}})

    assert resources.status_code == 200, resources.json
    assert [r["uri"] for r in resources.json["resources"]] == ["memo://greeting"]
    assert read.status_code == 200 and read.json["contents"][0]["text"] == "hello from a resource"
    assert [p["name"] for p in prompts.json["prompts"]] == ["review"]
    assert prompt.status_code == 200 and "x = 1" in prompt.json["messages"][0]["content"]["text"]


def test_given_a_server_without_resources_when_listed_then_404_method_not_found(client, viewer, legacy_tool):
    response = client.get(f"{TOOLS}/legacy/resources", headers=viewer)

    assert_error_shape(response, 404, "method_not_found")
    assert "-32601" in response.json["message"] and response.json["errors"]["task_id"]


def test_given_a_viewer_when_reading_a_resource_then_403(client, viewer, admin):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    assert client.post(f"{TOOLS}/legacy/resources/read", headers=viewer, json={"uri": "memo://x"}).status_code == 403
    assert client.post(f"{TOOLS}/legacy/prompts/get", headers=viewer, json={"name": "x"}).status_code == 403


# -- the aggregated namespace ------------------------------------------------------------------

def test_given_running_tools_when_http_tools_listed_then_server_prefixed_names(client, viewer, legacy_tool):
    response = client.get("/api/v1/mcp/http/tools", headers=viewer)

    assert response.status_code == 200
    assert [(t["name"], t["server"], t["tool"]) for t in response.json["tools"]] == [("legacy__echo", "legacy", "echo")]
    assert response.json["tools"][0]["inputSchema"]["required"] == ["text"]


@pytest.mark.parametrize("path", ["/api/v1/mcp/unified/call", "/api/v1/mcp/http/call"])
def test_given_an_aggregated_name_when_called_then_the_tools_result(client, operator, legacy_tool, path):
    response = client.post(path, headers=operator, json={"name": "legacy__echo", "arguments": {"text": "u"}})

    assert response.status_code == 200, response.json
    assert response.json["content"][0]["text"] == "legacy:u" and response.json["task_id"]


@pytest.mark.parametrize("name, status", [("legacy", 422), ("legacy__", 422), ("nope__echo", 404)])
def test_given_a_bad_aggregated_name_when_called_then_an_error(client, operator, legacy_tool, name, status):
    response = client.post("/api/v1/mcp/unified/call", headers=operator, json={"name": name})

    assert response.status_code == status, response.json


# -- who may call ------------------------------------------------------------------------------

def test_given_an_api_key_scoped_to_another_tool_then_404_for_this_one(client, admin, operator, legacy_tool):
    create_tool(client, admin, **stdio_body("other", "legacy_server.py"))
    key = client.post("/api/v1/auth/api-keys", headers=operator, json={"name": "agent", "tool_scope": ["other"]}).json
    as_key = {"X-API-Key": key["key"]}

    assert call(client, as_key, "legacy", "echo", {"text": "x"}).status_code == 404
    assert call(client, as_key, str(legacy_tool["id"]), "echo", {"text": "x"}).status_code == 404
    assert client.post("/api/v1/mcp/unified/call", headers=as_key,
                       json={"name": "legacy__echo", "arguments": {"text": "x"}}).status_code == 404
    assert client.get("/api/v1/mcp/http/tools", headers=as_key).json["tools"] == []
    assert client.get(f"{TOOLS}/available", headers=as_key).json["items"] == []
    assert client.get(f"{TOOLS}/legacy", headers=as_key).status_code == 404


def test_given_a_session_of_another_user_when_calling_with_it_then_404(client, app, operator, legacy_tool):
    with app.app_context():
        other = create_user("someone-else", "correct-horse-battery", role="operator")
    theirs = Session.create(user_id=other.id, name="theirs")

    response = call(client, operator, "legacy", "echo", {"text": "x"}, session_id=theirs.id)

    assert response.status_code == 404 and response.json["message"] == f"no session {theirs.id}"
    assert Message.select().where(Message.session == theirs.id).count() == 0


def test_given_my_session_when_calling_with_it_then_the_call_is_recorded_there(client, app, operator, legacy_tool):
    me = client.get("/api/v1/auth/me", headers=operator).json
    mine = Session.create(user_id=me["id"], name="mine")

    task_id = call(client, operator, "legacy", "echo", {"text": "x"}, session_id=mine.id).json["task_id"]

    assert wait_for(lambda: Message.get_or_none(Message.task_id == task_id)).session_id == mine.id


def test_given_a_viewer_when_calling_then_403(client, admin, viewer):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    assert call(client, viewer, "legacy", "echo", {"text": "x"}).status_code == 403
    assert client.post("/api/v1/mcp/unified/call", headers=viewer, json={"name": "legacy__echo"}).status_code == 403
    assert Tool.get(Tool.name == "legacy").status == "STOPPED"


def test_given_a_tool_that_gave_up_when_called_then_409_with_its_error_and_no_new_attempt(client, admin, operator,
                                                                                           worker):
    tool = create_tool(client, admin, **stdio_body("crash", "crashing_server.py", max_restart_attempts=0))
    assert client.post(f"{TOOLS}/crash/start?wait=true", headers=admin).json["errors"]["error_type"] == "start_failed"
    attempts = client.get(f"{TOOLS}/crash/logs?source=stderr", headers=admin).json["total"]

    response = call(client, operator, "crash", "anything")

    assert_error_shape(response, 409, "tool_not_running")
    assert "ERROR" in response.json["message"] and "frobnicator" in response.json["message"]
    time.sleep(0.3)
    assert client.get(f"{TOOLS}/crash/logs?source=stderr", headers=admin).json["total"] == attempts
    assert Tool.get_by_id(tool["id"]).status == "ERROR"
