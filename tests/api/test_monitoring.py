"""/api/v1/monitoring: metric series from the samples, and a dashboard whose numbers match the calls made."""
from datetime import datetime, timedelta

from models import MetricSample, Task, db

MONITORING = "/api/v1/monitoring"
T0 = datetime(2026, 3, 1, 10, 0, 0)


def test_given_calls_when_reading_the_dashboard_then_its_numbers_match_the_calls_made(client, admin, viewer, echo_tool):
    # Given 4 calls that succeed and 2 that fail (they time out)
    for n in range(4):
        ok = client.post(f"/api/v1/tools/{echo_tool['id']}/call", headers=admin,
                         json={"tool": "echo", "arguments": {"text": str(n)}})
        assert ok.status_code == 200, ok.json
    for _ in range(2):
        assert client.post(f"/api/v1/tools/{echo_tool['id']}/call", headers=admin,
                           json={"tool": "hang", "arguments": {}, "timeout": 0.2}).status_code == 504

    # When a viewer reads the dashboard (once the worker has recorded the calls)
    def recorded():
        body = client.get(f"{MONITORING}/dashboard", headers=viewer).json
        return body if body["calls"] == 6 else None
    from tests.harness import wait_for
    body = wait_for(recorded, timeout=10)

    # Then calls, failures, rate, latency percentiles and the top tool are those of the task rows
    durations = sorted(t.duration_ms for t in Task.select().where(Task.kind == "call"))
    assert body["failed"] == 2 and body["error_rate"] == round(2 / 6, 4)
    assert body["calls_per_minute"] == round(6 / 15, 3)
    assert body["p50_ms"] == round(durations[2], 3) and body["p95_ms"] == round(durations[5], 3)
    assert body["top_tools"] == [{"tool_id": echo_tool["id"], "tool": "echo", "calls": 6, "failed": 2,
                                  "p95_ms": round(durations[5], 3)}]
    assert body["tools"]["RUNNING"] == 1 and body["tools"]["STOPPED"] == 0
    assert body["alerts"] == []  # no alert table on this branch


def test_given_samples_when_reading_a_series_then_points_average_each_step(client, viewer, database):
    # Given host samples every 30 s for 4 minutes, cpu = the sample's index
    with db.atomic():
        for n in range(8):
            MetricSample.create(source="host", data={"cpu_percent": n, "load_1": 1.0, "host": "h"},
                                created_at=T0 + timedelta(seconds=30 * n))
    # When asked per 2 minutes
    body = client.get(f"{MONITORING}/metrics", headers=viewer, query_string={
        "source": "host", "since": "2026-03-01T10:00:00Z", "until": "2026-03-01T10:04:00Z", "step": 120}).json
    # Then two points, each the mean of its 4 samples; text fields are left out
    assert [(p["at"], p["samples"], p["cpu_percent"]) for p in body["points"]] == [
        ("2026-03-01T10:00:00+00:00", 4, 1.5), ("2026-03-01T10:02:00+00:00", 4, 5.5)]
    assert "host" not in body["points"][0] and body["points"][0]["load_1"] == 1.0

    bad = client.get(f"{MONITORING}/metrics", headers=viewer, query_string={"source": "tool"})
    assert bad.status_code == 422 and bad.json["code"] == 422
    assert client.get(f"{MONITORING}/metrics", headers=viewer, query_string={"step": 0}).status_code == 422


def test_given_alerts_when_reading_the_dashboard_then_the_firing_ones_are_listed(client, viewer, database):
    from models.alerts import Alert
    Alert.create(rule_name="cpu", subject="host", status="firing", message="cpu 95%")
    Alert.create(rule_name="disk", subject="host", status="resolved", message="disk")

    body = client.get(f"{MONITORING}/dashboard", headers=viewer).json

    assert [(a["status"], a["message"]) for a in body["alerts"]] == [("firing", "cpu 95%")]
