"""The notices workers publish for the MCP front doors (jobs/notices.py), heard on real Redis pub/sub
from a real worker process."""
from __future__ import annotations

import json
import time

import pytest

from jobs.connection import redis_client
from jobs.keys import tool_changes_channel
from models import Tool
from tests.harness import make_stdio_tool


@pytest.fixture
def tool_changes(settings):
    """The tool-change channel, subscribed before the test acts; read(n) returns n notices (or fails)."""
    pubsub = redis_client(settings).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(tool_changes_channel(settings))

    def read(count: int, timeout: float = 20.0) -> list[dict]:
        notices, deadline = [], time.monotonic() + timeout
        while len(notices) < count:
            assert time.monotonic() < deadline, f"heard {notices}"
            message = pubsub.get_message(timeout=0.5)
            if message is not None:
                notices.append({**json.loads(message["data"]), "row_status": Tool.get_by_id(
                    json.loads(message["data"])["tool_id"]).status})
        return notices
    yield read
    pubsub.close()


def test_given_a_tool_when_started_and_stopped_then_each_change_is_announced_after_its_row_says_so(
        start_worker, run_job, tool_changes):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")

    assert run_job("start", tool.id)["status"] == "succeeded"
    started = tool_changes(2)
    assert run_job("stop", tool.id)["status"] == "succeeded"
    stopped = tool_changes(1)

    assert [(n["tool_id"], n["reason"]) for n in started] == [(tool.id, "status:STARTING"), (tool.id, "status:RUNNING")]
    assert started[-1]["row_status"] == "RUNNING"  # a proxy reloading on the notice sees the tool
    assert stopped == [{"tool_id": tool.id, "reason": "status:STOPPED", "row_status": "STOPPED"}]


def test_given_a_running_tool_when_its_server_changes_its_tools_then_a_lists_notice_follows(
        start_worker, run_job, tool_changes):
    start_worker()
    tool = make_stdio_tool("echo", "echo_server.py")
    assert run_job("start", tool.id)["status"] == "succeeded"
    tool_changes(2)

    assert run_job("call", tool.id, tool="grow", arguments={"name": "sprout"})["status"] == "succeeded"
    [notice] = tool_changes(1)

    assert notice["reason"] == "lists"
    assert "sprout" in {t["name"] for t in Tool.get_by_id(tool.id).mcp_tools}
