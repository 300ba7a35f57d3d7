"""The answer path of a server's questions (jobs.input_requests) against the real Redis: one answer per
question, none after the asker gave up, and answers checked against the question's method."""
import asyncio

import mcp_types
import pytest

from jobs import events, input_requests
from jobs.connection import aredis_client

ELICIT = "elicitation/create"


def ask_and_wait(settings, job_id, question, timeout_s, before_wait=None):
    async def run():
        client = aredis_client(settings)
        try:
            await input_requests.register(client, settings, job_id, question, timeout_s)
            if before_wait is not None:
                await asyncio.to_thread(before_wait)
            return await input_requests.await_answer(client, settings, job_id, question["request_id"], timeout_s)
        finally:
            await client.aclose()
    return asyncio.run(run())


def test_given_a_pending_question_when_answered_then_the_asker_gets_it_and_a_second_answer_is_refused(settings, redis):
    question = events.input_request(input_requests.new_request_id(), ELICIT, {"message": "ok?"})
    outcomes = []

    def answer_twice():
        assert input_requests.pending(redis, settings, "job1") == {question["request_id"]: question}
        for reply in ({"result": {"action": "accept"}}, {"result": {"action": "decline"}}):
            outcomes.append(input_requests.answer(redis, settings, "job1", question["request_id"], reply))

    got = ask_and_wait(settings, "job1", question, 2, before_wait=answer_twice)

    assert got == {"result": {"action": "accept"}}
    assert outcomes == [True, False]
    assert input_requests.pending(redis, settings, "job1") == {}


def test_given_no_answer_when_the_wait_ends_then_none_and_a_late_answer_is_refused(settings, redis):
    question = events.input_request(input_requests.new_request_id(), ELICIT, {"message": "ok?"})

    got = ask_and_wait(settings, "job2", question, 0.2)
    late = input_requests.answer(redis, settings, "job2", question["request_id"], {"result": {"action": "accept"}})

    assert got is None
    assert late is False


def test_given_a_question_of_another_job_when_answered_under_this_job_then_refused(settings, redis):
    question = events.input_request(input_requests.new_request_id(), ELICIT, {"message": "ok?"})

    def answer_wrong_job():
        assert not input_requests.answer(redis, settings, "other-job", question["request_id"], {"result": {"action": "accept"}})

    assert ask_and_wait(settings, "job3", question, 0.3, before_wait=answer_wrong_job) is None


@pytest.mark.parametrize("method, answer", [
    (ELICIT, {"result": {"action": "maybe"}}),
    (ELICIT, {"result": {"action": "accept"}, "error": {"code": 1, "message": "x"}}),
    ("sampling/createMessage", {"result": {"role": "assistant"}}),
    ("roots/list", {"error": {"code": "x", "message": "y"}}),
    ("tools/call", {"result": {}}),
])
def test_given_a_malformed_answer_when_parsed_then_invalid(method, answer):
    with pytest.raises(input_requests.InvalidAnswer):
        input_requests.parse_answer(method, answer)


def test_given_valid_answers_when_parsed_then_the_sdk_types():
    sampled = input_requests.parse_answer("sampling/createMessage", {"result": {
        "role": "assistant", "model": "m", "content": {"type": "text", "text": "hi"}}})
    refused = input_requests.parse_answer("roots/list", {"error": {"code": -32601, "message": "no roots"}})

    assert isinstance(sampled, mcp_types.CreateMessageResult)
    assert isinstance(refused, mcp_types.ErrorData) and refused.code == -32601
