"""Run-time settings (PATCH /api/v1/system/config) followed without restart by the real scheduler process
(a schedule or switch changed reschedules its job) and the real MCP front door (the call budget)."""
from __future__ import annotations

import time
from datetime import datetime

import pytest
from mcp.shared.exceptions import MCPError

from api.mcp_proxy import control
from jobs.connection import redis_client
from scheduler.leader import current_leader
from tests.api.proxies import connect
from tests.harness import wait_for
from tests.scheduler.test_maintenance import scheduled_runs

CONFIG = "/api/v1/system/config"


def fire_times(kind: str) -> list[datetime]:
    return sorted(datetime.fromisoformat(task.args["scheduled_for"]) for task in scheduled_runs(kind))


def test_given_a_running_scheduler_when_schedules_and_switches_change_then_its_jobs_follow_without_restart(
        settings, client, admin, start_scheduler):
    # Given a scheduler (no worker: the queued tasks are the record) with hourly retention and no backups
    scheduler = start_scheduler(MCPS_DATA__BACKUP__ENABLED="false")
    wait_for(lambda: current_leader(redis_client(settings), settings), timeout=15)
    time.sleep(2)
    assert scheduled_runs("retention") == [] and scheduled_runs("backup") == []

    # When retention is set to every second and backups are switched on every two seconds
    changed = client.patch(CONFIG, headers=admin, json={"data": {
        "cleanup": {"schedule": "every 1s"}, "backup": {"enabled": True, "schedule": "every 2s"}}})
    assert changed.status_code == 200, changed.json

    # Then the same process runs them on their new timetables
    wait_for(lambda: len(scheduled_runs("retention")) >= 4 and len(scheduled_runs("backup")) >= 2, timeout=20)
    retention, backups = fire_times("retention"), fire_times("backup")
    assert {(b - a).total_seconds() for a, b in zip(retention, retention[1:])} == {1.0}
    assert {(b - a).total_seconds() for a, b in zip(backups, backups[1:])} == {2.0}

    # When retention is switched off, then it runs no more (once the change had a second to apply)
    assert client.patch(CONFIG, headers=admin, json={"data.cleanup.enabled": False}).status_code == 200
    time.sleep(3)
    count = len(scheduled_runs("retention"))
    time.sleep(3)
    assert len(scheduled_runs("retention")) == count
    assert len(scheduled_runs("backup")) >= 3  # the other job kept its new timetable
    assert scheduler.poll() is None  # the same process throughout


def applied_by_every_proxy(settings, generation: int) -> bool:
    beats = control.live_processes(redis_client(settings), settings)
    return bool(beats) and all(beat["settings_generation"] >= generation for beat in beats)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_given_a_running_front_door_when_the_call_budget_changes_then_its_next_calls_follow(
        settings, client, admin, start_proxy, api_key, echo_tool):
    # Given a front door process and a client calling through it under the default budget
    proxy = start_proxy()
    key = api_key()
    async with connect(proxy.url, key, "auto") as mcp:
        assert (await mcp.call_tool("echo", {"text": "before"})).content[0].text

        # When the call budget is lowered to two calls an hour, and the front door has applied it
        changed = client.patch(CONFIG, headers=admin, json={"rate_limits": {"calls": "2 per hour"}})
        assert changed.status_code == 200 and changed.json["pending_proxies"] == [], changed.json
        assert applied_by_every_proxy(settings, changed.json["generation"])

        # Then within a few calls the caller is refused, as rate limited
        with pytest.raises(MCPError) as refused:
            for n in range(3):
                await mcp.call_tool("echo", {"text": str(n)})
        assert refused.value.data["error_type"] == "rate_limited", refused.value.data

        # When the setting goes back to config's value, then the calls pass again
        reset = client.put(CONFIG, headers=admin, json={})
        assert reset.status_code == 200 and reset.json["overrides"] == {}
        wait_for(lambda: applied_by_every_proxy(settings, reset.json["generation"]), timeout=10)
        assert (await mcp.call_tool("echo", {"text": "after"})).content[0].text
    assert proxy.process.poll() is None  # no restart
