"""A backend's questions to its client, on the worker: the call's stream carries an input_request event,
the answer goes back through Redis (jobs.input_requests), for a handshake-era server (back-channel
requests) and a 2026-era one (InputRequiredResult, retried by the SDK's Client) alike."""
import pytest

from jobs import Job, JobClient, input_requests, stream
from jobs.events import is_final, is_input_request
from jobs.connection import redis_client
from tests.harness import WorkerProcess, make_stdio_tool

ERAS = {"handshake": ["--legacy"], "2026": []}


@pytest.fixture(scope="module")
def asking_tools(module_settings):
    """One worker and a running asking_server.py of each era, shared by this module's tests: each test
    makes its own calls (its own job, questions and answers), none stops or breaks the tool."""
    worker = WorkerProcess(module_settings)
    try:
        worker.wait_ready()
        jobs = JobClient.from_settings(module_settings, redis_client(module_settings))
        tools = {}
        for era, extra_args in ERAS.items():
            tool = make_stdio_tool(f"asking-{era}", "asking_server.py")
            tool.args = [*tool.args, *extra_args]
            tool.save()
            start = Job(kind="start", tool_id=tool.id)
            jobs.submit(start)
            assert jobs.wait(start.id, 30)["status"] == "succeeded"
            tools[era] = tool
        yield tools
    finally:
        worker.stop()


@pytest.fixture
def settings(module_settings):
    return module_settings


@pytest.fixture(params=sorted(ERAS))
def asking_tool(request, asking_tools):
    return asking_tools[request.param]


def first_question(jobs, settings, job_id) -> dict:
    for _, event in stream.follow(jobs.redis, settings, job_id, block_ms=200):
        if event is not None:
            assert not is_final(event), event
            if is_input_request(event):
                return event
    raise AssertionError("no question")


def test_given_a_server_that_elicits_when_the_answer_comes_then_the_call_uses_it(asking_tool, jobs, settings):
    job = Job(kind="call", tool_id=asking_tool.id, args={"tool": "confirm", "arguments": {"action": "deploy"}})
    jobs.submit(job)

    question = first_question(jobs, settings, job.id)
    accepted = input_requests.answer(jobs.redis, settings, job.id, question["request_id"],
                                     {"result": {"action": "accept", "content": {"confirm": True}}})
    final = jobs.wait(job.id, 15)

    assert question["method"] == "elicitation/create"
    assert question["params"]["message"] == "Proceed with deploy?"
    assert accepted
    assert final["status"] == "succeeded", final
    assert final["result"]["content"][0]["text"] == "confirmed deploy"


def test_given_a_server_that_samples_when_answered_then_the_call_uses_the_completion(asking_tool, jobs, settings):
    job = Job(kind="call", tool_id=asking_tool.id, args={"tool": "summarize", "arguments": {"text": "a long story"}})
    jobs.submit(job)

    question = first_question(jobs, settings, job.id)
    input_requests.answer(jobs.redis, settings, job.id, question["request_id"], {"result": {
        "role": "assistant", "content": {"type": "text", "text": "short"}, "model": "test-model"}})
    final = jobs.wait(job.id, 15)

    assert question["method"] == "sampling/createMessage"
    assert final["result"]["content"][0]["text"] == "summary: short"


def test_given_a_question_answered_once_when_answered_again_then_the_second_is_refused(asking_tool, jobs, settings):
    job = Job(kind="call", tool_id=asking_tool.id, args={"tool": "roots", "arguments": {}})
    jobs.submit(job)
    question = first_question(jobs, settings, job.id)

    first = input_requests.answer(jobs.redis, settings, job.id, question["request_id"],
                                  {"result": {"roots": [{"uri": "file:///work"}]}})
    second = input_requests.answer(jobs.redis, settings, job.id, question["request_id"],
                                   {"result": {"roots": [{"uri": "file:///elsewhere"}]}})

    assert (first, second) == (True, False)
    assert jobs.wait(job.id, 15)["result"]["content"][0]["text"] == "file:///work"


def test_given_no_answer_when_the_call_times_out_then_it_fails_as_input_timeout(asking_tool, jobs, settings):
    job = Job(kind="call", tool_id=asking_tool.id,
              args={"tool": "confirm", "arguments": {"action": "wait"}, "timeout": 1.5})
    jobs.submit(job)
    question = first_question(jobs, settings, job.id)

    final = jobs.wait(job.id, 10)
    late = input_requests.answer(jobs.redis, settings, job.id, question["request_id"], {"result": {"action": "decline"}})

    assert final["status"] == "failed"
    assert final["error_type"] == "input_timeout"
    assert "elicitation/create" in final["error"]
    assert final["timings"]["run_ms"] < 5000
    assert late is False
