"""Fault e: a server flooding its stderr and stdout. The worker that owns it stays responsive (another tool's
calls keep their latency) and the flood's log stays bounded by mcp.tools.max_stderr_lines."""
import statistics
import time

from models import LogEntry, Task, Tool
from tests.harness import make_stdio_tool, wait_for
from jobs import Job, JobClient
from jobs.connection import redis_client

CALLS = 40


def latencies_ms(jobs, tool_id) -> list[float]:
    measured = []
    for n in range(CALLS):
        started = time.perf_counter()
        event = jobs.run(Job(kind="call", tool_id=tool_id, args={"tool": "echo", "arguments": {"text": str(n)}}), 10)
        measured.append((time.perf_counter() - started) * 1000)
        assert event["status"] == "succeeded", event
    return measured


def test_given_a_flooding_server_when_another_tool_is_called_then_its_latency_holds_and_logs_stay_bounded(
        fault_settings, database, start_workers):
    # Given one worker serving an echo tool
    start_workers(fault_settings)
    jobs = JobClient.from_settings(fault_settings, redis_client(fault_settings))
    echo = make_stdio_tool("echo", "echo_server.py")
    assert jobs.run(Job(kind="start", tool_id=echo.id), 20)["status"] == "succeeded"
    before = latencies_ms(jobs, echo.id)

    # When a server flooding stderr and stdout runs on the same worker for a while
    flood = make_stdio_tool("flood", "flooding_server.py")
    started = jobs.run(Job(kind="start", tool_id=flood.id), 20)
    assert started["status"] == "succeeded", started
    time.sleep(2)
    during = latencies_ms(jobs, echo.id)
    flooded = jobs.run(Job(kind="call", tool_id=flood.id, args={"tool": "echo", "arguments": {"text": "f"}}), 10)

    # Then the echo tool answers as quickly as a loaded 2-core machine allows, and so does the flood's own
    p50_before, p50_during = statistics.median(before), statistics.median(during)
    assert p50_during < max(10 * p50_before, 50), (p50_before, p50_during, max(during))
    assert max(during) < 1000, during
    assert flooded["status"] == "succeeded", flooded
    # and the worker keeps up with its bookkeeping (the calls' task rows are written)
    wait_for(lambda: Task.select().where(Task.tool_id == echo.id, Task.kind == "call").count() == 2 * CALLS,
             timeout=10)
    # and the flood's stderr in the tool log is bounded by max_stderr_lines
    stderr_lines = LogEntry.select().where(LogEntry.tool_id == flood.id, LogEntry.source == "stderr").count()
    assert stderr_lines <= fault_settings.mcp.tools.max_stderr_lines, stderr_lines
    # and so are its transport errors (stdout lines that are not JSON-RPC)
    assert LogEntry.select().where(LogEntry.tool_id == flood.id, LogEntry.source == "transport").count() <= 25
    assert Tool.get_by_id(flood.id).status == "RUNNING"
    # and once it stops, the log says how many lines it left out
    assert jobs.run(Job(kind="stop", tool_id=flood.id), 20)["status"] == "succeeded"
    wait_for(lambda: LogEntry.select().where(LogEntry.tool_id == flood.id,
                                             LogEntry.message.contains("stderr lines not logged")).exists(), timeout=5)
