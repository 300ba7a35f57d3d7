"""Alerts end to end: rules over real metric samples taken by a real scheduler and worker, notified to a
local webhook receiver (signed, retried, recorded) and to a local SMTP sink; the REST surface of alerts,
rules and webhook targets."""
from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
from datetime import timedelta

import pytest

from models import Alert, AlertRule, MetricSample, NotificationDelivery, Task, Tool, db, utcnow
from tests.api.alert_sinks import SmtpSink, WebhookReceiver
from tests.harness import ROOT, settings_environ, wait_for

MONITORING = "/api/v1/monitoring"
SECRET = "a-webhook-secret-of-the-test-0123456789"
QUICK_RETRIES = {"MCPS_NOTIFICATIONS__BACKOFF_S": "0.1", "MCPS_NOTIFICATIONS__TIMEOUT_S": "2"}


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.fixture
def start_scheduler(settings):
    started: list[subprocess.Popen] = []

    def start(**env) -> subprocess.Popen:
        environ = {**settings_environ(settings), "MCPS_SCHEDULER__LEADER_TTL_MS": "900", **env}
        started.append(subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=environ,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return started[-1]

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def valid_signature(request: dict, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(request["headers"]["X-Mcps-Signature"], expected)


def add_webhook(client, admin, url, secret=SECRET) -> dict:
    response = client.post(f"{MONITORING}/webhooks", headers=admin, json={"name": "receiver", "url": url, "secret": secret})
    assert response.status_code == 201, response.json
    return response.json


def fresh(query):
    db.close()  # read what other processes wrote
    return query()


# -- end to end ------------------------------------------------------------------------------------

def test_given_a_rule_over_host_samples_when_it_is_breached_then_it_fires_once_signed_and_resolves(
        client, admin, settings, start_worker_for, start_scheduler, receiver):
    # Given webhooks on, a target with its secret, a rule any sample breaches, a worker and a scheduler
    # sampling and evaluating every second
    start_worker_for(settings, {"MCPS_FEATURES__WEBHOOKS": "true", **QUICK_RETRIES})
    add_webhook(client, admin, receiver.url)
    rule = client.post(f"{MONITORING}/alert-rules", headers=admin, json={
        "name": "always", "metric": "host.cpu_percent", "operator": ">=", "threshold": 0, "severity": "critical"}).json
    start_scheduler(MCPS_MONITORING__INTERVAL_S="1", MCPS_MONITORING__ALERT_INTERVAL_S="1",
                    MCPS_DATA__BACKUP__ENABLED="false", MCPS_DATA__CLEANUP__ENABLED="false")

    # When the samples breach it: it fires, to the receiver, with a valid signature
    fired = wait_for(lambda: receiver.events("alert.fired", "always"), timeout=30)[0]
    assert valid_signature(fired, SECRET) and not valid_signature(fired, "another secret")
    assert fired["json"]["alert"]["status"] == "firing" and fired["json"]["alert"]["severity"] == "critical"
    alert_id = fired["json"]["alert"]["id"]
    firing = client.get(f"{MONITORING}/alerts?status=firing", headers=admin).json["items"]
    assert alert_id in [a["id"] for a in firing]

    # When the rule no longer holds: it resolves, and is notified so
    client.patch(f"{MONITORING}/alert-rules/{rule['id']}", headers=admin, json={"threshold": 1000})
    resolved = wait_for(lambda: receiver.events("alert.resolved", "always"), timeout=30)[0]
    assert valid_signature(resolved, SECRET) and resolved["json"]["alert"]["id"] == alert_id

    # Then it fired once over many evaluations, and each delivery is recorded as delivered
    assert len(receiver.events("alert.fired", "always")) == 1
    assert client.get(f"{MONITORING}/alerts/{alert_id}", headers=admin).json["status"] == "resolved"
    deliveries = wait_for(lambda: [d for d in client.get(f"{MONITORING}/alerts/{alert_id}/deliveries", headers=admin)
                                   .json["items"] if d["status"] == "delivered"] or None)
    assert {d["event"] for d in deliveries} >= {"fired"} and all(d["attempts"] == 1 for d in deliveries)


def test_given_a_failing_receiver_when_an_alert_is_raised_then_the_delivery_is_retried_and_recorded(
        client, admin, settings, start_worker_for):
    # Given a receiver that fails twice, then accepts
    receiver = WebhookReceiver(statuses=[503, 500])
    try:
        start_worker_for(settings, {"MCPS_FEATURES__WEBHOOKS": "true", **QUICK_RETRIES})
        add_webhook(client, admin, receiver.url)

        # When an operator raises an alert by hand
        alert = client.post(f"{MONITORING}/alerts", headers=admin, json={"message": "disk replaced", "severity": "info"})
        assert alert.status_code == 201, alert.json

        # Then the third attempt delivers it, and the delivery records each attempt
        delivery = wait_for(lambda: [d for d in client.get(f"{MONITORING}/alerts/{alert.json['id']}/deliveries",
                                                           headers=admin).json["items"] if d["status"] != "pending"])[0]
        assert delivery["status"] == "delivered" and delivery["attempts"] == 3 and delivery["response_status"] == 200
        assert [a["ok"] for a in delivery["attempt_log"]] == [False, False, True]
        assert len(receiver.requests) == 3 and all(valid_signature(r, SECRET) for r in receiver.requests)
    finally:
        receiver.stop()


def test_given_email_notifications_on_when_an_alert_fires_then_a_mail_reaches_the_smtp_sink(
        client, admin, settings, start_worker_for, smtp_sink):
    # Given email notifications switched on, to a local SMTP sink
    start_worker_for(settings, {"MCPS_FEATURES__EMAIL_NOTIFICATIONS": "true", "MCPS_NOTIFICATIONS__EMAIL_TO": "ops@example.com",
                                "MCPS_NOTIFICATIONS__SMTP__HOST": "127.0.0.1",
                                "MCPS_NOTIFICATIONS__SMTP__PORT": str(smtp_sink.port), **QUICK_RETRIES})

    # When an alert is raised
    alert = client.post(f"{MONITORING}/alerts", headers=admin, json={"message": "backup disk full", "severity": "critical"})

    # Then one mail, to the configured address, says what fired; the delivery is recorded
    mail = wait_for(lambda: smtp_sink.messages, timeout=20)[0]
    assert mail.rcpt_tos == ["ops@example.com"]
    assert b"backup disk full" in mail.content and b"FIRING critical" in mail.content
    delivery = wait_for(lambda: [d for d in client.get(f"{MONITORING}/alerts/{alert.json['id']}/deliveries",
                                                       headers=admin).json["items"] if d["status"] == "delivered"])[0]
    assert delivery["channel"] == "email" and delivery["target"] == "ops@example.com"


def test_given_notifications_off_by_default_when_an_alert_fires_then_nothing_is_sent(
        client, admin, worker, receiver, smtp_sink, settings):
    # Given the default switches (webhooks and email off) and a target that would receive
    add_webhook(client, admin, receiver.url)

    # When an alert is raised
    alert = client.post(f"{MONITORING}/alerts", headers=admin, json={"message": "quiet"}).json

    # Then its notify job ran and planned no delivery
    task = wait_for(lambda: fresh(lambda: Task.get_or_none((Task.kind == "notify_alert") & (Task.status == "succeeded"))))
    assert task.result["deliveries"] == [] and task.result["alert_id"] == alert["id"]
    assert receiver.requests == [] and smtp_sink.messages == []


# -- evaluation ------------------------------------------------------------------------------------

def sample(seconds_ago: float, cpu: float) -> None:
    MetricSample.create(source="host", data={"host": "h1", "cpu_percent": cpu},
                        created_at=utcnow() - timedelta(seconds=seconds_ago))


def test_given_a_duration_then_the_rule_fires_only_once_the_breach_lasted_that_long(database, settings):
    from workers.alerts import evaluate_rule

    rule = AlertRule.create(name="cpu", metric="host.cpu_percent", threshold=80, duration_s=300)
    # Given CPU above 80 % for the last two minutes only (below before)
    for ago, cpu in [(400, 50), (340, 50), (120, 95), (60, 95), (0, 97)]:
        sample(ago, cpu)
    # Then nothing fires
    assert evaluate_rule(rule, utcnow(), 60) == ([], [])
    # Given the breach goes back more than five minutes
    MetricSample.delete().execute()
    for ago, cpu in [(360, 90), (300, 91), (240, 95), (120, 95), (0, 97)]:
        sample(ago, cpu)
    # Then it fires once, naming the host and the value
    fired, _ = evaluate_rule(rule, utcnow(), 60)
    assert [(a.subject, a.value) for a in fired] == [("host:h1", 97)] and "cpu_percent is 97" in fired[0].message
    assert evaluate_rule(rule, utcnow(), 60) == ([], [])  # still firing: not again
    # When CPU drops, it resolves
    sample(-1, 20)
    _, resolved = evaluate_rule(rule, utcnow() + timedelta(seconds=2), 60)
    assert [a.id for a in resolved] == [fired[0].id]
    assert Alert.get_by_id(fired[0].id).status == "resolved"


def test_given_a_tool_in_error_then_the_default_rule_fires_and_resolves_when_it_recovers(database, settings):
    from models.alerts import ensure_default_rules
    from workers.alerts import evaluate_rule

    ensure_default_rules(settings)
    rule = AlertRule.get(AlertRule.name == "tool_error")
    tool = Tool.create(name="broken", transport="stdio", command="x", status="ERROR")

    fired, _ = evaluate_rule(rule, utcnow(), 60)
    Tool.update(status="RUNNING").where(Tool.id == tool.id).execute()
    _, resolved = evaluate_rule(rule, utcnow(), 60)

    assert [a.subject for a in fired] == [f"tool:{tool.id}"] and [a.id for a in resolved] == [fired[0].id]


# -- the REST surface ------------------------------------------------------------------------------

def test_given_the_config_then_the_default_rules_carry_its_thresholds_until_an_admin_sets_one(make_app, database):
    from api.users.accounts import create_user

    app = make_app(**{"monitoring.cpu_alert_percent": 70})
    client = app.test_client()
    with app.app_context():
        create_user("root", "correct-horse-battery", role="admin")
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": "correct-horse-battery"}).json
    admin = {"Authorization": f"Bearer {token['access_token']}"}

    rules = {r["name"]: r for r in client.get(f"{MONITORING}/alert-rules", headers=admin).json["items"]}
    assert (rules["host_cpu"]["threshold"], rules["host_memory"]["threshold"], rules["host_disk"]["threshold"]) == (70, 85, 90)
    assert rules["host_cpu"]["duration_s"] == 300 and rules["host_cpu"]["config_key"] == "monitoring.cpu_alert_percent"

    changed = client.patch(f"{MONITORING}/alert-rules/{rules['host_cpu']['id']}", headers=admin, json={"threshold": 95})
    assert changed.json["threshold"] == 95 and changed.json["config_key"] is None
    deleted = client.delete(f"{MONITORING}/alert-rules/{rules['host_cpu']['id']}", headers=admin)
    assert deleted.status_code == 409 and deleted.json["code"] == 409


@pytest.mark.parametrize("body", [
    {"name": "x", "metric": "host.nope", "threshold": 1},
    {"name": "x", "metric": "host.cpu_percent"},
    {"name": "x", "metric": "host.cpu_percent", "threshold": 1, "operator": "=="},
    {"name": "x y", "metric": "host.cpu_percent", "threshold": 1},
    {"name": "x", "metric": "host.cpu_percent", "threshold": 1, "duration_s": -1},
    {"name": "x", "metric": "host.cpu_percent", "threshold": 1, "extra": True},
])
def test_given_a_bad_rule_then_422_in_the_one_error_shape(client, admin, body):
    response = client.post(f"{MONITORING}/alert-rules", headers=admin, json=body)
    assert response.status_code == 422 and response.json["code"] == 422 and response.json["errors"]


def test_given_alerts_then_they_are_listed_acknowledged_and_resolved(client, admin, operator, viewer):
    raised = client.post(f"{MONITORING}/alerts", headers=operator, json={"message": "by hand"}).json
    assert raised["status"] == "firing" and raised["created_by"] is not None

    acknowledged = client.post(f"{MONITORING}/alerts/{raised['id']}/acknowledge", headers=operator).json
    listed = client.get(f"{MONITORING}/alerts?acknowledged=true", headers=viewer).json
    resolved = client.post(f"{MONITORING}/alerts/{raised['id']}/resolve", headers=operator)
    again = client.post(f"{MONITORING}/alerts/{raised['id']}/resolve", headers=operator)

    assert acknowledged["acknowledged_at"] and [a["id"] for a in listed["items"]] == [raised["id"]]
    assert resolved.json["status"] == "resolved" and again.status_code == 409 and again.json["code"] == 409
    assert client.get(f"{MONITORING}/alerts/999999", headers=viewer).json["code"] == 404
    assert client.get(f"{MONITORING}/alerts?status=nope", headers=viewer).status_code == 422


def test_given_a_webhook_target_then_its_secret_is_shown_once_and_stored_encrypted(client, admin):
    created = client.post(f"{MONITORING}/webhooks", headers=admin, json={"name": "ops", "url": "https://example.com/h"})
    listed = client.get(f"{MONITORING}/webhooks", headers=admin).json["items"]
    bad = client.post(f"{MONITORING}/webhooks", headers=admin, json={"name": "x", "url": "ftp://example.com"})

    assert created.status_code == 201 and len(created.json["secret"]) == 64
    assert "secret" not in listed[0]
    stored = db.execute_sql("SELECT secret FROM webhook_target").fetchone()[0]
    assert created.json["secret"] not in stored
    assert bad.status_code == 422 and bad.json["code"] == 422
    assert NotificationDelivery.select().count() == 0
