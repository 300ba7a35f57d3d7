"""Health probes through the owning worker: a tool whose server stops answering (SIGSTOP) is found,
marked unhealthy after N failed pings, and restarted when restart_on_failure."""
from __future__ import annotations

import os
import signal

import psutil

from tests.api.e2e import create_tool, process_gone, start_tool, stdio_body
from tests.harness import wait_for

PROBE = "/api/v1/system/schedules/health_probe/run?wait=true"
FAST_PROBES = {"MCPS_MONITORING__PROBE_TIMEOUT_S": "1", "MCPS_MONITORING__PROBE_FAILURES": "2"}


def probe_round(client, admin) -> dict:
    response = client.post(PROBE, headers=admin)
    assert response.status_code == 200 and response.json["status"] == "succeeded", response.json
    return response.json["result"]


def status(client, admin, tool_id) -> dict:
    return client.get(f"/api/v1/tools/{tool_id}/status", headers=admin).json


def test_given_a_tool_that_stops_answering_then_probes_mark_it_unhealthy_and_restart_it(
        client, admin, settings, database, start_worker_for):
    # Given a worker probing with a 1 s timeout, unhealthy after 2 failures, and a running tool
    start_worker_for(settings, FAST_PROBES)
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))
    start_tool(client, admin, tool["id"])
    assert probe_round(client, admin)["healthy"] == ["echo"]
    assert status(client, admin, tool["id"])["health"]["healthy"] is True
    pid = status(client, admin, tool["id"])["pid"]

    # When its server is frozen (alive, answering nothing)
    os.kill(pid, signal.SIGSTOP)
    try:
        first = probe_round(client, admin)
        health = status(client, admin, tool["id"])["health"]
        assert first["failing"] == ["echo"] and health["failures"] == 1 and health["healthy"] is True
        second = probe_round(client, admin)

        # Then the second failure restarts it: a new process answers, the frozen one is gone
        assert second["restarted"] == ["echo"]
        wait_for(lambda: status(client, admin, tool["id"])["pid"] not in (None, pid)
                 and status(client, admin, tool["id"])["status"] == "RUNNING", timeout=30)
        assert status(client, admin, tool["id"])["health"]["restarted_at"]
        logs = client.get(f"/api/v1/tools/{tool['id']}/logs", headers=admin).json["items"]
        assert any(line["message"].startswith("unhealthy: 2 health probes failed") for line in logs)
        wait_for(lambda: process_gone(pid), timeout=20)
        # (the restarted tool may still be settling on a busy machine: probe until it answers)
        wait_for(lambda: probe_round(client, admin)["healthy"] == ["echo"], timeout=20)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_given_a_tool_without_restart_on_failure_then_it_is_only_marked_unhealthy(
        client, admin, settings, database, start_worker_for):
    start_worker_for(settings, FAST_PROBES)
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py", restart_on_failure=False))
    start_tool(client, admin, tool["id"])
    pid = status(client, admin, tool["id"])["pid"]

    os.kill(pid, signal.SIGSTOP)
    try:
        probe_round(client, admin)
        second = probe_round(client, admin)

        assert second["failing"] == ["echo"] and second["restarted"] == []
        health = status(client, admin, tool["id"])["health"]
        assert health["healthy"] is False and health["failures"] == 2
        assert status(client, admin, tool["id"])["pid"] == pid
    finally:
        os.kill(pid, signal.SIGCONT)
    assert psutil.pid_exists(pid)
