"""A backend's questions (the job's input_request events) to the MCP client that made the call, and the
client's answers back to the worker that waits for them (jobs.input_requests), in both client eras.

- Handshake-era client: the question becomes a JSON-RPC request (elicitation/create, sampling/createMessage,
  roots/list) on the call's SSE stream, its id the question's unguessable request id. The session
  remembers which job asked it (in Redis, so the client's response may reach any proxy process); the
  response, POSTed with the session id, is delivered to that job only.
- 2026-07-28 client: there are no server->client requests. The call is answered with an
  InputRequiredResult carrying the question under its request id, and a `requestState` naming the job
  and where its stream was read to. The client's retry carries the answers and that state back: they
  are delivered and the call is followed from there (to its result, or to its next question).

`requestState` comes back from the client, so it is sealed: HMAC-SHA256 (a key derived from the
platform's JWT secret, so every proxy process verifies what any other minted) over the job, stream
position, question ids, the caller's principal, the method and name called, and an expiry. Another
caller, another tool, an edited or an expired state is refused with the SDK's frozen answer.

A client that did not declare the capability a question needs (or a handshake-era POST that does not
accept SSE) cannot be asked: the backend gets a JSON-RPC error instead.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from mcp_types import CLIENT_CAPABILITIES_META_KEY, INVALID_PARAMS, METHOD_NOT_FOUND

from api.mcp_proxy.wire import RpcError
from config import Section, secret
from jobs import input_requests

log = logging.getLogger("mcps.proxy")
STATE_KEY_LABEL = b"mcps/mcp-proxy/request-state/v1"
STATE_GRACE_S = 5.0  # a state outlives its question this much (the client's retry is on its way)
INVALID_STATE = "Invalid or expired requestState"  # one answer for every cause, as the SDK's servers give


@dataclass(frozen=True)
class InputRequired:
    """The answer to a 2026 client's call whose backend asked something: an InputRequiredResult."""

    result: dict


@dataclass(frozen=True)
class Resume:
    """A verified requestState: the job to follow, and from where."""

    job_id: str
    after: str
    deadline: float


class Questions:
    def __init__(self, settings: Section, redis, sessions):
        self.settings = settings
        self.redis = redis
        self.sessions = sessions
        self.state_key = hmac.new(secret(settings, "jwt_secret").encode(), STATE_KEY_LABEL, hashlib.sha256).digest()

    # -- asking -----------------------------------------------------------------------------------

    async def ask(self, request, job_id: str, entry_id: str, question: dict, call: tuple[str, str],
                  deadline: float) -> InputRequired | None:
        """Put the backend's question to the client. An InputRequired for a 2026 client (the call's answer
        for now); None when the call goes on (asked on the SSE stream, or the backend told it cannot be)."""
        method, params = question["method"], question.get("params") or {}
        request_id = question["request_id"]
        if request.session is None:  # 2026-07-28
            if may_ask(_modern_capabilities(request.params), method, params):
                return InputRequired(self._input_required(request, job_id, entry_id, question, call, deadline))
        elif request.emit is not None and may_ask(request.session.client_capabilities, method, params):
            ttl_s = float(question.get("timeout_s") or self.settings.mcp.jobs.input_timeout_s) + STATE_GRACE_S
            await self.sessions.remember_question(request.session.id, request_id, job_id, ttl_s)
            await request.emit({"id": request_id, "method": method, "params": params})
            log.info("event=proxy.asked session=%s job=%s method=%s", request.session.id, job_id, method)
            return None
        await input_requests.aanswer(self.redis, self.settings, job_id, request_id, {"error": {
            "code": METHOD_NOT_FOUND, "message": f"the MCP client did not declare the capability for {method}"}})
        log.info("event=proxy.not_asked job=%s method=%s reason=no_capability", job_id, method)
        return None

    def _input_required(self, request, job_id, entry_id, question, call, deadline) -> dict:
        ask = {"method": question["method"]}
        if question.get("params"):
            ask["params"] = question["params"]
        expires = min(deadline, time.time() + float(question.get("timeout_s") or 0) + STATE_GRACE_S)
        state = self.seal({"job": job_id, "after": entry_id, "ids": [question["request_id"]],
                           "who": request.caller.principal, "call": list(call), "deadline": deadline, "exp": expires})
        return {"resultType": "input_required", "inputRequests": {question["request_id"]: ask}, "requestState": state}

    # -- answers ----------------------------------------------------------------------------------

    async def deliver_response(self, session, message: dict) -> bool:
        """A handshake-era client's JSON-RPC response to a question asked on this session."""
        request_id = message.get("id")
        job_id = await self.sessions.take_question(session.id, request_id) if isinstance(request_id, str) else None
        if job_id is None:
            return False
        answer = {"error": message["error"]} if "error" in message else {"result": message.get("result")}
        delivered = await input_requests.aanswer(self.redis, self.settings, job_id, request_id, answer)
        log.info("event=proxy.answered session=%s job=%s delivered=%s", session.id, job_id, delivered)
        return delivered

    async def resume(self, request, call: tuple[str, str]) -> Resume:
        """A 2026 client's retry: verify its requestState, deliver its inputResponses; where to follow the
        job from. Raises RpcError(INVALID_PARAMS) for a state that is not this caller's, for this call."""
        state = self.open(request.params.get("requestState"))
        if state is None or state["who"] != request.caller.principal or tuple(state["call"]) != call:
            raise RpcError(INVALID_PARAMS, INVALID_STATE, {"reason": "invalid_request_state"})
        responses = request.params.get("inputResponses")
        responses = responses if isinstance(responses, dict) else {}
        for request_id in state["ids"]:
            if isinstance(responses.get(request_id), dict):
                # Not delivered (answered already: a retried retry, or timed out): the job's stream says what came of it.
                await input_requests.aanswer(self.redis, self.settings, state["job"], request_id,
                                             {"result": responses[request_id]})
        return Resume(state["job"], state["after"], state["deadline"])

    # -- requestState -----------------------------------------------------------------------------

    def seal(self, payload: dict) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(hmac.new(self.state_key, body.encode(), hashlib.sha256).digest())}"

    def open(self, token: Any) -> dict | None:
        """The payload of a state this platform sealed and that has not expired; None otherwise."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
            return None
        body, mac = token.split(".")
        expected = _b64(hmac.new(self.state_key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return payload if payload.get("exp", 0) > time.time() else None


def may_ask(capabilities: dict, method: str, params: dict) -> bool:
    """Did the client declare what this question needs?"""
    capability = capabilities.get(input_requests.CAPABILITY_OF.get(method, ""))
    if not isinstance(capability, dict):
        return False
    if method == "elicitation/create":
        if params.get("mode") == "url":
            return "url" in capability
        return "form" in capability or not capability  # `elicitation: {}` is form mode (2025-06-18)
    if method == "sampling/createMessage" and params.get("tools"):
        return "tools" in capability
    return True


def _modern_capabilities(params: dict) -> dict:
    meta = params.get("_meta")
    capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY) if isinstance(meta, dict) else None
    return capabilities if isinstance(capabilities, dict) else {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
