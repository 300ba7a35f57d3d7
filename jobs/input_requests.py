"""Questions a job's MCP server asks its client in the middle of a call, and their answers, through Redis.

The worker that runs the call (workers/asking.py) registers the question in the job's pending hash,
publishes an `input_request` event on the job's stream and BLPOPs the question's own answer list.
Whoever answers (the REST API's POST /tasks/{id}/input, or the MCP front door with a client's JSON-RPC
response or a 2026 client's retry) calls `answer` / `aanswer`: one script takes the request id out of the
pending hash and pushes the answer, so exactly one answer is accepted, and none once the worker gave up.
A list per question rather than the worker's queue: the answer goes to the coroutine that waits for it,
on whichever worker that is, with no routing of its own.

An answer is {"result": {...}} (the MCP result of the question's method) or
{"error": {"code": int, "message": str}} (a JSON-RPC error for the server's request).
"""
from __future__ import annotations

import json
import secrets

import mcp_types
from pydantic import ValidationError

from config import Section
from jobs.keys import input_answer_key, input_pending_key

# The methods a server may ask its client, and the client capability each needs.
CAPABILITY_OF = {"elicitation/create": "elicitation", "sampling/createMessage": "sampling", "roots/list": "roots"}
ANSWER_TTL_S = 60  # an answer not taken by then belongs to a question nobody waits for any more

# KEYS: pending hash, answer list. ARGV: request id, answer (JSON), answer TTL. 1 when accepted.
_ANSWER = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
# KEYS: pending hash, answer list. ARGV: request id. The answer that raced the give-up, or nil.
_WITHDRAW = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then return false end
return redis.call('LPOP', KEYS[2])
"""


class InvalidAnswer(ValueError):
    """An answer that is neither a result of the question's method nor a JSON-RPC error."""


def new_request_id() -> str:
    """Unguessable: it names the question to whoever may answer it (and is the JSON-RPC id a handshake-era
    client sees)."""
    return secrets.token_hex(16)


def parse_answer(method: str, answer: dict):
    """The answer as the SDK's type: an ElicitResult, CreateMessageResult(WithTools) or ListRootsResult,
    or an ErrorData. Raises InvalidAnswer."""
    if not isinstance(answer, dict) or ("result" in answer) == ("error" in answer):
        raise InvalidAnswer("an answer has either `result` or `error`")
    if "error" in answer:
        error = answer["error"]
        if not isinstance(error, dict) or not isinstance(error.get("code"), int) or not isinstance(error.get("message"), str):
            raise InvalidAnswer("error must be {code: integer, message: string}")
        return mcp_types.ErrorData(code=error["code"], message=error["message"], data=error.get("data"))
    models = _RESULT_MODELS.get(method)
    if models is None:
        raise InvalidAnswer(f"no answer is expected to {method}")
    problems = []
    for model in models:
        try:
            return model.model_validate(answer["result"])
        except ValidationError as error:
            problems.append(f"{error.error_count()} error(s): {error.errors()[0]['loc']} {error.errors()[0]['msg']}")
    raise InvalidAnswer(f"result is not a valid {method} result ({'; '.join(problems)})")


_RESULT_MODELS = {"elicitation/create": (mcp_types.ElicitResult,),
                  "sampling/createMessage": (mcp_types.CreateMessageResult, mcp_types.CreateMessageResultWithTools),
                  "roots/list": (mcp_types.ListRootsResult,)}


# -- answering (REST API: sync client; MCP front door: asyncio client) ------------------------------

def pending(client, settings: Section, job_id: str) -> dict[str, dict]:
    """The job's unanswered questions by request id (the input_request events, as asked)."""
    return _decode_pending(client.hgetall(input_pending_key(settings, job_id)))


async def apending(client, settings: Section, job_id: str) -> dict[str, dict]:
    return _decode_pending(await client.hgetall(input_pending_key(settings, job_id)))


def answer(client, settings: Section, job_id: str, request_id: str, reply: dict) -> bool:
    """Deliver `reply` to the worker waiting on the question; False when it is not pending (answered
    already, given up, or never asked by this job)."""
    keys, args = _answer_args(settings, job_id, request_id, reply)
    return bool(client.register_script(_ANSWER)(keys=keys, args=args))


async def aanswer(client, settings: Section, job_id: str, request_id: str, reply: dict) -> bool:
    keys, args = _answer_args(settings, job_id, request_id, reply)
    return bool(await client.register_script(_ANSWER)(keys=keys, args=args))


def _answer_args(settings: Section, job_id: str, request_id: str, reply: dict) -> tuple[list, list]:
    return ([input_pending_key(settings, job_id), input_answer_key(settings, job_id, request_id)],
            [request_id, json.dumps(reply, separators=(",", ":")), ANSWER_TTL_S])


def _decode_pending(fields: dict) -> dict[str, dict]:
    return {name.decode(): json.loads(value) for name, value in fields.items()}


# -- asking (the worker, asyncio) ------------------------------------------------------------------

async def register(client, settings: Section, job_id: str, question: dict, ttl_s: float) -> None:
    """Make the question answerable (before its event is published: an answer may come at once)."""
    name = input_pending_key(settings, job_id)
    pipe = client.pipeline(transaction=False)
    pipe.hset(name, question["request_id"], json.dumps(question, separators=(",", ":")))
    pipe.expire(name, max(int(ttl_s) + ANSWER_TTL_S, 1))
    await pipe.execute()


async def await_answer(client, settings: Section, job_id: str, request_id: str, timeout_s: float) -> dict | None:
    """The answer, or None when none came within `timeout_s` (the question is then withdrawn: a later
    answer is refused)."""
    answer_key = input_answer_key(settings, job_id, request_id)
    popped = await client.blpop([answer_key], timeout=max(timeout_s, 0.01))
    if popped is None:
        raced = await client.register_script(_WITHDRAW)(
            keys=[input_pending_key(settings, job_id), answer_key], args=[request_id])
        if raced is None:
            return None
        popped = (answer_key, raced)
    return json.loads(popped[1])


async def forget(client, settings: Section, job_id: str) -> None:
    """The call is over: its questions can no longer be answered."""
    await client.delete(input_pending_key(settings, job_id))
