import psutil

from models import Tool
from tests.workers.conftest import make_stdio_tool


def test_given_a_stdio_tool_when_started_then_running_with_its_tool_list(start_worker, run_job):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")

    outcome = run_job("start", tool.id)

    assert outcome["status"] == "succeeded", outcome
    row = Tool.get_by_id(tool.id)
    assert row.status == "RUNNING"
    assert {t["name"] for t in row.mcp_tools} >= {"echo", "add", "slow"}
    assert psutil.pid_exists(row.pid)
