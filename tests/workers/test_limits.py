"""Resource limits: a server over its memory or CPU limit is killed and reported."""
from models import Tool
from tests.harness import make_stdio_tool, wait_for


def test_given_a_memory_limit_below_the_server_when_running_then_killed_with_the_reason(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("small", "legacy_server.py", memory_limit_mb=1, max_restart_attempts=0)

    run_job("start", tool.id)

    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "ERROR" and r)
    assert "memory" in row.last_error and "over its limit of 1 MB" in row.last_error


def test_given_a_cpu_limit_when_the_server_burns_a_core_then_killed_after_the_grace_beats(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("busy", "echo_server.py", cpu_limit_percent=20, max_restart_attempts=0)
    assert run_job("start", tool.id)["status"] == "succeeded"

    outcome = run_job("call", tool.id, tool="burn", arguments={"seconds": 30}, wait_s=20)

    assert outcome["status"] == "failed"
    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "ERROR" and r)
    assert "CPU" in row.last_error and "over its limit of 20%" in row.last_error
