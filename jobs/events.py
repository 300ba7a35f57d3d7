"""The events a job publishes on its result stream, and the error types a failed job can end with.

A job's stream holds, in order: `progress` and `log` events while it runs, `input_request` events when
its MCP server asks its client something, and exactly one final `result` event. Events travel as JSON
dicts; the constructors below are the only place they are built.

Every `error_type` has one HTTP status (REST answers) and one JSON-RPC error code (the MCP front door).
"""
from __future__ import annotations

import enum

FINAL = "result"  # the type of the final event; everything before it is progress
PROGRESS = "progress"
LOG = "log"
INPUT_REQUEST = "input_request"
HANDED_BACK = "handed_back"  # a leaving worker passed the job on unstarted: it no longer answers for it


class ErrorType(str, enum.Enum):
    """Why a job failed: stable names for clients, each with its HTTP status and JSON-RPC code."""

    def __new__(cls, name: str, http_status: int, jsonrpc_code: int):
        member = str.__new__(cls, name)
        member._value_ = name
        member.http_status = http_status
        member.jsonrpc_code = jsonrpc_code
        return member

    # The request itself
    BAD_REQUEST = "bad_request", 422, -32600
    INVALID_PARAMS = "invalid_params", 422, -32602
    METHOD_NOT_FOUND = "method_not_found", 404, -32601
    NOT_FOUND = "not_found", 404, -32002  # MCP's "resource not found"
    RATE_LIMITED = "rate_limited", 429, -32029
    # The tool and its server
    TOOL_NOT_RUNNING = "tool_not_running", 409, -32010
    START_FAILED = "start_failed", 502, -32011
    SERVER_ERROR = "server_error", 502, -32603
    STEP_FAILED = "step_failed", 502, -32013  # a workflow step failed (the run's result has every step)
    CONNECTION_LOST = "connection_lost", 503, -32000  # the SDK's CONNECTION_CLOSED
    # Time and fate
    TIMEOUT = "timeout", 504, -32001  # the SDK's REQUEST_TIMEOUT
    DEADLINE_EXCEEDED = "deadline_exceeded", 504, -32001
    CANCELLED = "cancelled", 409, -32800
    INPUT_TIMEOUT = "input_timeout", 504, -32001  # the server asked its client something; no answer in time
    WORKER_LOST = "worker_lost", 503, -32012
    WAIT_TIMEOUT = "wait_timeout", 202, -32001  # the caller stopped waiting; the job goes on
    INTERNAL = "internal", 500, -32603

    @classmethod
    def of(cls, name: str | None) -> "ErrorType":
        try:
            return cls(name)
        except ValueError:
            return cls.INTERNAL


class JobError(Exception):
    """A job that could not produce a result; `error_type` is stable for clients."""

    def __init__(self, message: str, error_type: str | ErrorType):
        super().__init__(message)
        self.error_type = ErrorType.of(error_type).value

    def event(self) -> dict:
        return failed(self.error_type, str(self))


class RateLimited(Exception):
    """The caller's call budget is spent; `event` is the rejection (with retry_after_ms)."""

    def __init__(self, event: dict | None):
        super().__init__((event or {}).get("error", "rate limited"))
        self.event = event or {}


def succeeded(result) -> dict:
    return {"type": FINAL, "status": "succeeded", "result": result}


def failed(error_type: str | ErrorType, message: str, **extra) -> dict:
    """A failed (or cancelled) job's final event."""
    error_type = ErrorType.of(error_type)
    status = "cancelled" if error_type is ErrorType.CANCELLED else "failed"
    return {"type": FINAL, "status": status, "error_type": error_type.value, "error": message, **extra}


def worker_lost() -> dict:
    return failed(ErrorType.WORKER_LOST, "the worker running this job died; the call was not retried")


def rate_limited(description: str) -> dict:
    """The rejection the enqueue script writes; it fills in retry_after_ms (the placeholder 0)."""
    return failed(ErrorType.RATE_LIMITED, f"call rate limit exceeded ({description})", retry_after_ms=0)


def progress(progress: float, total: float | None = None, message: str | None = None, **extra) -> dict:
    return {"type": PROGRESS, "progress": progress, "total": total, "message": message, **extra}


def log(params: dict) -> dict:
    """A server's notifications/message params (level, logger, data)."""
    return {"type": LOG, **params}


def input_request(request_id: str, method: str, params: dict, **extra) -> dict:
    """The MCP server asks its client something (elicitation/create, sampling/createMessage, roots/list) in
    the middle of a job; `extra` says until when it waits (`timeout_s`, `expires_at` epoch seconds).
    The answer goes back through jobs.input_requests.answer, naming `request_id`."""
    return {"type": INPUT_REQUEST, "request_id": request_id, "method": method, "params": params, **extra}


def is_input_request(event: dict) -> bool:
    return event.get("type") == INPUT_REQUEST


def handed_back(worker_id: str) -> dict:
    return {"type": HANDED_BACK, "worker": worker_id}


def is_final(event: dict) -> bool:
    return event.get("type") == FINAL


def http_status(event: dict) -> int:
    return ErrorType.of(event.get("error_type")).http_status
