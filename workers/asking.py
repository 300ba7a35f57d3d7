"""A backend's questions to its client (elicitation, sampling, roots), answered by whoever made the call.

Every tool session's `Client` gets the same three callbacks, whatever era its server speaks: a
handshake-era server sends `elicitation/create` (etc.) back to us, and the SDK's `Client` turns a 2026
server's `InputRequiredResult` into calls of the very same callbacks and retries the call with the
answers (mcp/client/_input_required.py). Each callback publishes an `input_request` event on the job's
stream and waits for the answer that jobs.input_requests routes back through Redis.

Which job asks? Several calls may be in flight on one session, and the JSON-RPC request of a
handshake-era server names no request of ours. So:
- `current_call`, a contextvar set by the call's own task, is the answer wherever the callback runs in a
  context copied from that task: always for a 2026 server (the retry loop runs inside the call), and
  for a handshake-era server over streamable HTTP (the SDK reads the reply stream of the call's own POST
  and hands each message on with the sender's context);
- over stdio nothing on the wire ties the request to a call: it belongs to the only asking call in flight
  on that session, and when there are several, the server is answered with an error rather than sending
  someone else's question to a client (logged as event=input.ambiguous).
"""
from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

import mcp_types
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, REQUEST_TIMEOUT

from jobs import events, input_requests

log = logging.getLogger("mcps.jobs")
ASKING_KINDS = ("call", "get_prompt", "read_resource")  # the requests a server may answer with a question


@dataclass(eq=False)
class CallInFlight:
    """One asking request on a tool session, as its questions see it."""

    job_id: str
    deadline: float  # time.monotonic() by which the call must be answered
    asked: bool = False
    waiting_for: str | None = None  # the method of the question waiting for its answer now
    unanswered: str | None = None  # why the call fails: a question nobody answered in time


current_call: ContextVar[CallInFlight | None] = ContextVar("mcps_current_call", default=None)


class Asker:
    """The worker's side of the questions: registers, publishes and awaits them (one per worker)."""

    def __init__(self, settings, redis: Callable[[], object], publish: Callable[[str, dict], Awaitable[None]]):
        self.settings = settings
        self.redis = redis  # the MCP loop's redis.asyncio client
        self.publish = publish

    def callbacks(self, calls_in_flight: Callable[[], Iterable[CallInFlight]], tool_name: str) -> dict:
        """The Client options of one tool session: its three callbacks."""
        async def elicitation(context, params):
            return await self.ask("elicitation/create", _dump(params), calls_in_flight, tool_name)

        async def sampling(context, params):
            return await self.ask("sampling/createMessage", _dump(params), calls_in_flight, tool_name)

        async def list_roots(context):
            return await self.ask("roots/list", {}, calls_in_flight, tool_name)

        return {"elicitation_callback": elicitation, "sampling_callback": sampling, "list_roots_callback": list_roots}

    async def ask(self, method: str, params: dict, calls_in_flight, tool_name: str):
        call = current_call.get() or _only(calls_in_flight())
        if call is None:
            log.warning("event=input.ambiguous tool=%s method=%s", tool_name, method)
            return mcp_types.ErrorData(code=INTERNAL_ERROR, message=(
                f"{method} cannot be routed: several calls are in flight on this connection and the request "
                "does not say which one it belongs to"))
        timeout_s = min(float(self.settings.mcp.jobs.input_timeout_s), call.deadline - time.monotonic())
        if timeout_s <= 0:
            return mcp_types.ErrorData(code=REQUEST_TIMEOUT, message=f"no time left in the call for {method}")
        question = events.input_request(input_requests.new_request_id(), method, params,
                                        timeout_s=round(timeout_s, 3), expires_at=round(time.time() + timeout_s, 3))
        redis = self.redis()
        await input_requests.register(redis, self.settings, call.job_id, question, timeout_s)
        call.asked = True
        call.waiting_for = method
        log.info("event=input.asked job=%s tool=%s method=%s request=%s", call.job_id, tool_name, method,
                 question["request_id"])
        await self.publish(call.job_id, question)
        # (left set when the wait is cancelled: the call's own time ran out while it waited)
        answer = await input_requests.await_answer(redis, self.settings, call.job_id, question["request_id"], timeout_s)
        call.waiting_for = None
        if answer is None:
            call.unanswered = f"the client did not answer the server's {method} within {timeout_s:g} s"
            log.info("event=input.timeout job=%s method=%s", call.job_id, method)
            return mcp_types.ErrorData(code=REQUEST_TIMEOUT, message=call.unanswered)
        try:
            return input_requests.parse_answer(method, answer)
        except input_requests.InvalidAnswer as error:
            return mcp_types.ErrorData(code=INVALID_PARAMS, message=f"the client's answer is not valid: {error}")

    async def forget(self, call: CallInFlight) -> None:
        """The call is over: questions it left unanswered can no longer be answered."""
        if call.asked:
            await input_requests.forget(self.redis(), self.settings, call.job_id)


def _only(calls: Iterable[CallInFlight]) -> CallInFlight | None:
    calls = list(calls)
    return calls[0] if len(calls) == 1 else None


def _dump(params) -> dict:
    return params.model_dump(mode="json", by_alias=True, exclude_none=True) if params is not None else {}
