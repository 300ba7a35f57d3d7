"""Calls as jobs: results, errors, progress, cancel, timeout, deadlines, stopped tools, worker death."""
import os
import signal
import time

import psutil
import pytest

from models import LogEntry, Message, Task, Tool
from tests.harness import make_stdio_tool, wait_for
from jobs import stream
from jobs import Job


@pytest.fixture
def echo_tool(start_worker, run_job, tmp_path):
    worker = start_worker()
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    assert run_job("start", tool.id)["status"] == "succeeded"
    tool.calls_file = calls_file
    tool.worker = worker
    return tool


def test_given_a_running_tool_when_called_then_result_with_structured_content(echo_tool, run_job):
    outcome = run_job("call", echo_tool.id, tool="add", arguments={"a": 2, "b": 3})

    assert outcome["status"] == "succeeded"
    assert outcome["result"]["structuredContent"] == {"total": 5}
    assert outcome["result"]["isError"] is False


def test_given_a_tool_that_raises_when_called_then_is_error_result_not_platform_failure(echo_tool, run_job):
    outcome = run_job("call", echo_tool.id, tool="fail", arguments={"reason": "nope"})

    assert outcome["status"] == "succeeded"
    assert outcome["result"]["isError"] is True
    assert "nope" in outcome["result"]["content"][0]["text"]


def test_given_an_unknown_mcp_tool_when_called_then_the_servers_error_result(echo_tool, run_job):
    # The SDK's server answers an unknown tool with an isError result (not a JSON-RPC error)
    outcome = run_job("call", echo_tool.id, tool="no_such_tool", arguments={})

    assert outcome["status"] == "succeeded"
    assert outcome["result"]["isError"] is True
    assert "no_such_tool" in outcome["result"]["content"][0]["text"]


def test_given_a_slow_tool_when_called_then_progress_events_precede_the_result(echo_tool, jobs, settings):
    job = Job(kind="call", tool_id=echo_tool.id, args={"tool": "slow", "arguments": {"steps": 3, "delay": 0.05}})
    jobs.submit(job)

    events = [event for _, event in stream.follow(jobs.redis, settings, job.id) if event]

    assert [e["progress"] for e in events if e["type"] == "progress"] == [1, 2, 3]
    assert events[-1]["type"] == "result" and events[-1]["status"] == "succeeded"


def test_given_a_tool_that_logs_when_called_then_its_log_messages_precede_the_result(echo_tool, jobs, settings):
    # Given a call to a tool that sends two log messages while it runs
    job = Job(kind="call", tool_id=echo_tool.id, args={"tool": "chatty", "arguments": {"text": "hey"}})

    # When it is made
    jobs.submit(job)
    events = [event for _, event in stream.follow(jobs.redis, settings, job.id) if event]

    # Then the job's stream carries them, then the result; the tool log keeps them too
    logs = [event for event in events if event["type"] == "log"]
    assert [(log["level"], log["logger"], log["data"]) for log in logs] == [
        ("info", "chatty", "about to echo hey"), ("warning", "chatty", {"echoing": "hey"})]
    assert events[-1]["type"] == "result" and events[-1]["result"]["content"][0]["text"] == "hey"
    assert wait_for(lambda: LogEntry.select().where((LogEntry.tool_id == echo_tool.id) & (LogEntry.source == "server")
                                                    & LogEntry.message.contains("about to echo hey")).exists())


def test_given_a_hung_call_when_timeout_passes_then_timeout_error(echo_tool, run_job):
    started = time.monotonic()

    outcome = run_job("call", echo_tool.id, tool="hang", arguments={}, timeout=0.5)

    assert outcome["status"] == "failed" and outcome["error_type"] == "timeout"
    assert time.monotonic() - started < 5


def test_given_a_running_call_when_cancelled_then_cancelled_and_tool_still_serves(echo_tool, jobs, run_job):
    job = Job(kind="call", tool_id=echo_tool.id, args={"tool": "hang", "arguments": {}})
    jobs.submit(job)
    wait_for(lambda: echo_tool.calls_file.exists() and "hang" in echo_tool.calls_file.read_text())

    jobs.cancel(job.id)

    outcome = jobs.wait(job.id, 10)
    assert outcome["status"] == "cancelled"
    assert run_job("call", echo_tool.id, tool="echo", arguments={"text": "still here"})["status"] == "succeeded"


def test_given_a_job_past_its_deadline_when_taken_then_not_started(echo_tool, jobs):
    job = Job(kind="call", tool_id=echo_tool.id, args={"tool": "echo", "arguments": {"text": "late"}},
              deadline=time.time() - 1)
    jobs.submit(job)

    outcome = jobs.wait(job.id, 10)

    assert outcome["error_type"] == "deadline_exceeded"
    assert not echo_tool.calls_file.exists() or "echo" not in echo_tool.calls_file.read_text()


def test_given_a_stopped_tool_when_called_then_tool_not_running(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("legacy", "legacy_server.py")

    outcome = run_job("call", tool.id, tool="echo", arguments={"text": "x"})

    assert outcome["status"] == "failed" and outcome["error_type"] == "tool_not_running"


def test_given_a_stopped_auto_start_tool_when_called_then_it_starts_and_answers(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("legacy", "legacy_server.py", auto_start=True)

    outcome = run_job("call", tool.id, tool="echo", arguments={"text": "x"})

    assert outcome["status"] == "succeeded", outcome
    assert Tool.get_by_id(tool.id).status == "RUNNING"


def test_given_a_call_when_answered_then_task_row_and_history_are_recorded(echo_tool, jobs):
    job = Job(kind="call", tool_id=echo_tool.id, user_id=7, args={"tool": "echo", "arguments": {"text": "hi"}})
    jobs.submit(job)
    jobs.wait(job.id, 10)

    task = wait_for(lambda: Task.get_or_none(Task.id == job.id))
    assert task.status == "succeeded" and task.duration_ms > 0
    message = wait_for(lambda: Message.get_or_none(Message.task_id == job.id))
    assert message.tool_name == "echo" and message.session.is_auto and message.session.user_id == 7


def test_given_a_call_in_flight_when_its_worker_is_killed_then_clear_error_and_no_second_execution(
        echo_tool, jobs, start_worker, settings):
    job = Job(kind="call", tool_id=echo_tool.id, args={"tool": "hang", "arguments": {}})
    owner = jobs.owner_of(echo_tool.id)
    jobs.submit(job)
    wait_for(lambda: echo_tool.calls_file.exists() and "hang" in echo_tool.calls_file.read_text())
    start_worker()  # a survivor that will take the tool over

    worker_pid = next(p.pid for p in psutil.Process(echo_tool.worker.process.pid).children())
    os.kill(worker_pid, signal.SIGKILL)
    outcome = jobs.wait(job.id, 15, worker_id=owner)

    assert outcome["status"] == "failed" and outcome["error_type"] == "worker_lost"
    wait_for(lambda: Tool.get_by_id(echo_tool.id).status == "RUNNING"
             and jobs.owner_of(echo_tool.id) not in (None, owner), timeout=10)
    time.sleep(0.5)
    assert echo_tool.calls_file.read_text().count("hang") == 1
