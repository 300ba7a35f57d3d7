"""A REST call whose MCP server asks its client something: the call answers 202 `input_required` with the
question, the task shows it, its owner answers with POST /tasks/{id}/input, and the call completes."""

import pytest

from tests.api.e2e import TASKS, TOOLS, create_tool, start_tool, stdio_body, wait_task
from tests.harness import SERVERS

CONFIRM = {"tool": "confirm", "arguments": {"action": "deploy"}}
ACCEPT = {"action": "accept", "content": {"confirm": True}}


@pytest.fixture
def asking_tool(client, admin, worker):
    """A running asking_server.py tool that speaks only the handshake era (its questions are back-channel
    requests)."""
    tool = create_tool(client, admin, **stdio_body("asking", "asking_server.py",
                                                   args=[str(SERVERS / "asking_server.py"), "--legacy"]))
    start_tool(client, admin, tool["id"])
    return tool


def call(client, headers, tool, body=CONFIRM):
    return client.post(f"{TOOLS}/{tool['id']}/call", headers=headers, json=body)


def test_given_a_server_that_asks_when_called_sync_then_202_input_required_with_the_question(
        client, operator, asking_tool):
    response = call(client, operator, asking_tool)

    assert response.status_code == 202, response.json
    assert response.json["status"] == "input_required"
    question = response.json["input_requests"][0]
    assert question["method"] == "elicitation/create"
    assert question["params"]["message"] == "Proceed with deploy?"
    assert response.json["links"]["input"] == f"{TASKS}/{response.json['task_id']}/input"


def test_given_a_question_when_its_owner_answers_then_the_call_completes_with_the_answer(
        client, operator, asking_tool):
    task_id = call(client, operator, asking_tool).json["task_id"]
    shown = client.get(f"{TASKS}/{task_id}", headers=operator).json

    answered = client.post(f"{TASKS}/{task_id}/input", headers=operator, json={
        "request_id": shown["input_requests"][0]["request_id"], "result": ACCEPT})
    finished = wait_task(client, operator, task_id)
    events = client.get(f"{TASKS}/{task_id}/events", headers=operator).get_data(as_text=True)

    assert shown["status"] == "input_required"
    assert answered.status_code == 202, answered.json
    assert finished["status"] == "succeeded"
    assert finished["result"]["content"][0]["text"] == "confirmed deploy"
    assert "event: input_request" in events and "Proceed with deploy?" in events


def test_given_someone_elses_question_when_answering_then_403_and_the_question_stays(
        client, operator, headers_for, asking_tool):
    task_id = call(client, operator, asking_tool).json["task_id"]
    request_id = client.get(f"{TASKS}/{task_id}", headers=operator).json["input_requests"][0]["request_id"]
    other_operator = headers_for("operator", "mallory")

    refused = client.post(f"{TASKS}/{task_id}/input", headers=other_operator,
                          json={"request_id": request_id, "result": ACCEPT})
    still = client.get(f"{TASKS}/{task_id}", headers=operator).json

    assert refused.status_code == 403
    assert still["status"] == "input_required"
    client.post(f"{TASKS}/{task_id}/input", headers=operator,
                json={"request_id": request_id, "result": {"action": "decline"}})
    assert wait_task(client, operator, task_id)["result"]["content"][0]["text"] == "declined deploy"


def test_given_a_malformed_or_unknown_answer_when_posted_then_422_or_409(client, operator, asking_tool):
    task_id = call(client, operator, asking_tool).json["task_id"]
    request_id = client.get(f"{TASKS}/{task_id}", headers=operator).json["input_requests"][0]["request_id"]

    malformed = client.post(f"{TASKS}/{task_id}/input", headers=operator,
                            json={"request_id": request_id, "result": {"action": "maybe"}})
    unknown = client.post(f"{TASKS}/{task_id}/input", headers=operator,
                          json={"request_id": "0" * 32, "result": ACCEPT})
    refused = client.post(f"{TASKS}/{task_id}/input", headers=operator,
                          json={"request_id": request_id, "error": {"code": -1, "message": "no thanks"}})

    assert malformed.status_code == 422
    assert unknown.status_code == 409
    assert refused.status_code == 202
    assert "no answer" in wait_task(client, operator, task_id)["result"]["content"][0]["text"]


def test_given_no_answer_when_the_call_times_out_then_the_task_fails_input_timeout(client, operator, asking_tool):
    response = call(client, operator, asking_tool, {**CONFIRM, "timeout": 1.5})

    finished = wait_task(client, operator, response.json["task_id"])

    assert finished["status"] == "failed"
    assert finished["error_type"] == "input_timeout"
