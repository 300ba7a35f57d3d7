import sys
import time

import psutil

from models import Tool
from tests.harness import make_stdio_tool, wait_for
from jobs import Job


def test_given_a_stdio_tool_when_started_then_running_with_its_tool_list(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")

    outcome = run_job("start", tool.id)

    assert outcome["status"] == "succeeded", outcome
    row = Tool.get_by_id(tool.id)
    assert row.status == "RUNNING"
    assert {t["name"] for t in row.mcp_tools} >= {"echo", "add", "slow"}
    assert psutil.pid_exists(row.pid)


def test_given_a_running_tool_when_stopped_then_stopped_and_process_gone(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")
    run_job("start", tool.id)
    pid = Tool.get_by_id(tool.id).pid

    outcome = run_job("stop", tool.id)

    assert outcome["status"] == "succeeded", outcome
    assert Tool.get_by_id(tool.id).status == "STOPPED"
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)


def test_given_a_running_tool_when_restarted_then_new_pid(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")
    run_job("start", tool.id)
    old_pid = Tool.get_by_id(tool.id).pid

    outcome = run_job("restart", tool.id)

    assert outcome["status"] == "succeeded", outcome
    row = Tool.get_by_id(tool.id)
    assert row.status == "RUNNING" and row.pid != old_pid


def test_given_a_handshake_era_server_when_started_then_initialize_fallback_is_used(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("legacy", "legacy_server.py")

    outcome = run_job("start", tool.id)

    assert outcome["status"] == "succeeded", outcome
    row = Tool.get_by_id(tool.id)
    assert row.protocol_version == "2025-11-25"
    assert row.server_info["name"] == "legacy-server"
    call = run_job("call", tool.id, tool="echo", arguments={"text": "x"})
    assert call["result"]["content"][0]["text"] == "legacy:x"


def test_given_a_modern_server_when_started_then_discover_era_is_used(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")

    run_job("start", tool.id)

    assert Tool.get_by_id(tool.id).protocol_version == "2026-07-28"


def test_given_a_running_tool_when_its_child_is_killed_then_it_restarts(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")
    run_job("start", tool.id)
    old_pid = Tool.get_by_id(tool.id).pid

    psutil.Process(old_pid).kill()

    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "RUNNING" and r.pid != old_pid and r)
    assert row.restart_count == 1
    assert "process exited" in row.last_error


def test_given_a_server_that_always_crashes_when_started_then_error_after_max_attempts(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("crasher", "crashing_server.py", max_restart_attempts=2)

    outcome = run_job("start", tool.id)

    assert outcome["status"] == "failed" and outcome["error_type"] == "start_failed"
    row = Tool.get_by_id(tool.id)
    assert row.status == "ERROR"
    assert row.restart_count == 2
    assert "frobnicator" in row.last_error
    from models import LogEntry
    assert LogEntry.select().where(LogEntry.tool_id == tool.id, LogEntry.message.contains("frobnicator")).exists()


def test_given_a_running_server_when_its_tool_list_changes_then_the_list_is_refreshed(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")
    run_job("start", tool.id)

    outcome = run_job("call", tool.id, tool="grow", arguments={"name": "sprout"})

    assert outcome["status"] == "succeeded", outcome
    wait_for(lambda: "sprout" in {t["name"] for t in Tool.get_by_id(tool.id).mcp_tools})


def test_given_a_command_that_does_not_exist_when_started_then_error_names_it(start_worker, run_job):
    start_worker()
    tool = Tool.create(name="missing", transport="stdio", command="/nonexistent/mcp-server", max_restart_attempts=0)

    outcome = run_job("start", tool.id)

    assert outcome["status"] == "failed"
    assert "cannot run '/nonexistent/mcp-server'" in Tool.get_by_id(tool.id).last_error


def test_given_a_start_waiting_for_its_server_when_cancelled_then_cancelled_and_the_tool_stopped(
        start_worker, jobs):
    # Given a server that never answers the handshake, being started
    start_worker()
    tool = Tool.create(name="mute", transport="stdio", command=sys.executable,
                       args=["-c", "import time; time.sleep(61)"], max_restart_attempts=0)
    job = Job(kind="start", tool_id=tool.id)
    jobs.submit(job)
    pid = wait_for(lambda: _child_pid_of("time.sleep(61)"))

    # When the start is cancelled
    jobs.cancel(job.id)

    # Then the start ends cancelled at once, the tool is STOPPED and its process is gone
    outcome = jobs.wait(job.id, 10)
    assert outcome["status"] == "cancelled" and outcome["error_type"] == "cancelled"
    assert wait_for(lambda: Tool.get_by_id(tool.id).status == "STOPPED")
    assert Tool.get_by_id(tool.id).desired_state == "stopped"
    assert wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)


def _child_pid_of(marker: str) -> int | None:
    for process in psutil.process_iter(["cmdline"]):
        if marker in " ".join(process.info["cmdline"] or []):
            return process.pid
    return None


def test_given_a_tool_still_starting_when_stopped_then_stopped_at_once(start_worker, jobs, run_job):
    # Given a start waiting for a server that never answers the handshake
    start_worker()
    tool = Tool.create(name="mute", transport="stdio", command=sys.executable,
                       args=["-c", "import time; time.sleep(62)"], max_restart_attempts=0)
    jobs.submit(Job(kind="start", tool_id=tool.id))
    wait_for(lambda: _child_pid_of("time.sleep(62)"))

    # When it is stopped
    began = time.monotonic()
    outcome = run_job("stop", tool.id)

    # Then it stops without waiting for the handshake timeout
    assert outcome["status"] == "succeeded" and time.monotonic() - began < 5
    assert Tool.get_by_id(tool.id).status == "STOPPED"
    assert wait_for(lambda: _child_pid_of("time.sleep(62)") is None)


def test_given_a_server_flooding_stdout_with_garbage_when_started_then_its_start_timeout_ends_it(
        make_settings, start_worker_for, run_job_for):
    from tests.conftest import bind_fresh_database
    settings = make_settings(**{"mcp.tools.start_timeout_s": 3})
    bind_fresh_database(settings)
    start_worker_for(settings)
    tool = make_stdio_tool("garbage", "garbage_server.py", restart_on_failure=False)

    started = time.monotonic()
    outcome = run_job_for(settings, "start", tool.id, wait_s=60)

    # The handshake timeout fires on time and is the reason given, not "did not start (STARTING): None"
    assert outcome["error_type"] == "start_failed"
    assert "did not answer the MCP handshake within 3 s" in outcome["error"]
    assert time.monotonic() - started < 10
