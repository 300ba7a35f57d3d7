"""Ownership: one owner per tool, takeover after a worker is killed, no orphan processes."""
import os
import signal
import time

import psutil

from models import Tool
from tests.harness import make_stdio_tool, wait_for
from jobs.leases import ToolOwnerLease
from jobs.connection import redis_client


def test_given_two_workers_and_many_tools_then_each_tool_has_one_owner_and_stop_reaches_it(
        start_worker, run_job, settings):
    start_worker()
    start_worker()
    tools = [make_stdio_tool(f"legacy{i}", "legacy_server.py") for i in range(6)]

    for tool in tools:
        assert run_job("start", tool.id)["status"] == "succeeded"

    leases = ToolOwnerLease(redis_client(settings), settings)
    owners = {tool.id: leases.owner(tool.id) for tool in tools}
    assert all(owners.values())
    assert all(Tool.get_by_id(t.id).owner_worker == owners[t.id] for t in tools)
    for tool in tools:
        pid = Tool.get_by_id(tool.id).pid
        assert run_job("restart", tool.id)["status"] == "succeeded"
        assert Tool.get_by_id(tool.id).pid != pid
        assert run_job("stop", tool.id)["status"] == "succeeded"
        assert leases.owner(tool.id) is None
    assert all(Tool.get_by_id(t.id).status == "STOPPED" for t in tools)


def test_given_a_worker_owning_tools_when_killed_then_another_takes_over_and_no_orphans(
        start_worker, run_job, settings):
    first = start_worker()
    tool = make_stdio_tool("echo", "legacy_server.py")
    run_job("start", tool.id)
    second = start_worker()
    leases = ToolOwnerLease(redis_client(settings), settings)
    # Make sure the tool lives in the first worker, whatever worker took the start job.
    owner = leases.owner(tool.id)
    victim = first if owner in first.worker_ids() else second
    survivor = second if victim is first else first
    victim_pid = next(p.pid for p in psutil.Process(victim.process.pid).children())
    children = [c.pid for c in psutil.Process(victim_pid).children(recursive=True)]
    assert children

    os.kill(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()

    wait_for(lambda: Tool.get_by_id(tool.id).status == "RUNNING"
             and leases.owner(tool.id) in survivor.worker_ids(), timeout=8)
    assert time.monotonic() - killed_at < 5
    wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                             for pid in children), timeout=3)
    call = run_job("call", tool.id, tool="echo", arguments={"text": "after"})
    assert call["result"]["content"][0]["text"] == "legacy:after"
