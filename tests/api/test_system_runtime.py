"""/system/status, /system/metrics (with its history over both metric tiers) and /system/processes with a
real worker and a running tool."""
from __future__ import annotations

import os
from datetime import timedelta

from models import MetricRollup, MetricSample, utcnow
from models.rollups import hour_of
from scheduler.jobs import JobContext, heartbeat
from jobs.connection import redis_client

SYSTEM = "/api/v1/system"


def test_given_a_worker_and_a_scheduler_heartbeat_then_status_lists_every_process_with_its_age(
        client, viewer, settings, worker):
    heartbeat(JobContext(settings, redis_client(settings), "sched-1"))

    body = client.get(f"{SYSTEM}/status", headers=viewer).json

    processes = body["processes"]
    assert body["status"] == "ok" and processes["web"]["pid"] == os.getpid() and processes["web"]["version"]
    assert [w["id"] for w in processes["workers"]] == [worker.wait_ready()]
    assert 0 <= processes["workers"][0]["heartbeat_age_s"] <= settings.mcp.worker.lease_ttl_ms / 1000
    assert processes["scheduler"]["pid"] == os.getpid() and 0 <= processes["scheduler"]["heartbeat_age_s"] < 5
    assert processes["proxy"]["listening"] in (True, False)


def test_given_no_scheduler_then_status_is_degraded(client, viewer):
    body = client.get(f"{SYSTEM}/status", headers=viewer).json

    assert body["status"] == "degraded" and body["processes"]["scheduler"]["heartbeat_age_s"] is None


def test_given_a_running_tool_and_a_call_when_metrics_are_sampled_then_host_tool_queue_and_latency(
        client, admin, viewer, echo_tool):
    call = client.post(f"/api/v1/tools/{echo_tool['id']}/call", headers=admin,
                       json={"tool": "echo", "arguments": {"text": "hi"}})
    assert call.status_code == 200, call.json
    assert client.get(f"{SYSTEM}/metrics", headers=viewer).json["host"] is None  # nothing sampled yet

    sampled = client.post(f"{SYSTEM}/schedules/metric_sample/run?wait=true", headers=admin)
    assert sampled.status_code == 200 and sampled.json["status"] == "succeeded", sampled.json

    body = client.get(f"{SYSTEM}/metrics?minutes=5", headers=viewer).json
    assert 0 <= body["host"]["cpu_percent"] <= 100 * os.cpu_count()
    assert 0 < body["host"]["memory_percent"] < 100 and 0 < body["host"]["disk_percent"] <= 100
    [tool] = body["tools"]
    assert tool["tool_id"] == echo_tool["id"] and tool["pid"] and tool["memory_mb"] > 0 and tool["open_files"] > 0
    assert body["queues"]["lifecycle"] >= 0
    [rate] = [r for r in body["jobs"]["tools"] if r["tool_id"] == echo_tool["id"]]
    assert rate["calls"] >= 1 and rate["p50_ms"] > 0 and rate["p95_ms"] >= rate["p50_ms"]
    assert len(body["history"]) == 1

    # And the totals of the calls are a time series of their own (the console's charts over time)
    [point] = client.get("/api/v1/monitoring/metrics?source=jobs", headers=viewer).json["points"]
    assert point["calls"] >= 1 and point["per_minute"] > 0 and point["error_percent"] == 0
    assert point["p95_ms"] >= point["p50_ms"] > 0


def test_given_a_running_tool_then_processes_shows_web_worker_and_tool_with_psutil_figures(
        client, operator, echo_tool):
    items = client.get(f"{SYSTEM}/processes", headers=operator).json["items"]

    roles = {item["role"]: item for item in items}
    assert set(roles) == {"web", "worker", "tool"}
    assert roles["worker"]["rss_mb"] > 0 and roles["worker"]["running"]
    assert roles["tool"]["tool_id"] == echo_tool["id"] and roles["tool"]["owner"] == roles["worker"]["id"]
    assert roles["tool"]["rss_mb"] > 0 and roles["tool"]["pid"]


def test_given_rolled_up_hours_and_recent_samples_when_history_is_asked_then_both_in_time_order(
        app, client, viewer):
    # Given an hour rolled up three hours ago, and a sample taken just now
    with app.app_context():
        old_hour = hour_of(utcnow() - timedelta(hours=3))
        MetricRollup.create(source="host", hour=old_hour, samples=60, data={"cpu_percent": 20.5},
                            maxima={"cpu_percent": 90})
        MetricSample.create(source="host", data={"cpu_percent": 7})

    # When the host history of the last four hours is asked
    history = client.get(f"{SYSTEM}/metrics", headers=viewer, query_string={"minutes": 240}).json["history"]

    # Then the rolled-up hour comes first, as one entry with its samples, average and maximum
    assert history[0] == {"at": old_hour.isoformat() + "+00:00", "samples": 60, "cpu_percent": 20.5,
                          "max": {"cpu_percent": 90}}
    assert [entry["cpu_percent"] for entry in history[1:]] == [7]
