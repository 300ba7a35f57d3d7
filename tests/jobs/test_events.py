"""Error types: one table of HTTP statuses and JSON-RPC codes; events built by their constructors."""
from __future__ import annotations

import pytest

from jobs import ErrorType, JobError, events


@pytest.mark.parametrize("error_type, http_status, code", [
    ("tool_not_running", 409, -32010), ("timeout", 504, -32001), ("invalid_params", 422, -32602),
    ("worker_lost", 503, -32012), ("rate_limited", 429, -32029), ("start_failed", 502, -32011)])
def test_given_an_error_type_then_its_http_status_and_jsonrpc_code(error_type, http_status, code):
    assert (ErrorType(error_type).http_status, ErrorType(error_type).jsonrpc_code) == (http_status, code)


def test_given_an_unknown_error_type_then_internal():
    assert ErrorType.of("no such thing") is ErrorType.INTERNAL and ErrorType.of(None).http_status == 500


def test_given_a_cancellation_then_its_event_says_cancelled_not_failed():
    assert events.failed("cancelled", "stop")["status"] == "cancelled"
    assert JobError("late", ErrorType.TIMEOUT).event() == {
        "type": "result", "status": "failed", "error_type": "timeout", "error": "late"}


def test_given_every_error_type_then_its_code_is_a_jsonrpc_error_code():
    assert all(-32899 <= kind.jsonrpc_code <= -32000 for kind in ErrorType)
