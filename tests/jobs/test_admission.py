"""One rule decides whether a call may go to a tool (the API before enqueueing, the worker after)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from jobs import JobError, admission


def tool(status, desired="stopped", auto_start=False, last_error=None):
    return SimpleNamespace(name="t", status=status, desired_state=desired, auto_start=auto_start, last_error=last_error)


@pytest.mark.parametrize("row", [
    tool("RUNNING"), tool("STARTING"), tool("STOPPED", desired="running"), tool("STOPPED", auto_start=True),
    tool("ERROR", auto_start=True)])
def test_given_a_tool_that_runs_or_may_start_when_called_then_admitted(row):
    admission.check_call(row, running=admission.is_running(row))


@pytest.mark.parametrize("row", [tool("STOPPED"), tool("ERROR", desired="running", last_error="boom")])
def test_given_a_tool_stopped_or_given_up_when_called_then_tool_not_running(row):
    with pytest.raises(JobError) as refused:
        admission.check_call(row, running=admission.is_running(row))
    assert refused.value.error_type == "tool_not_running"


def test_given_a_tool_in_error_when_refused_then_the_reason_names_its_last_error():
    with pytest.raises(JobError, match="boom"):
        admission.check_call(tool("ERROR", desired="running", last_error="boom"), running=False)


def test_given_no_session_on_the_worker_when_the_row_still_says_running_then_the_same_rule_decides():
    # The worker knows better than the row: no session means not running.
    with pytest.raises(JobError):
        admission.check_call(tool("RUNNING", desired="stopped"), running=False)
    admission.check_call(tool("RUNNING", desired="running"), running=False)
