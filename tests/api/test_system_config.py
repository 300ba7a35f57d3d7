"""/api/v1/system/config: the settings in effect with secrets masked; run-time changes validated, stored,
audited and applied by a running worker without restart."""
from __future__ import annotations

import logging

import pytest

from models import LogEntry, Message, RuntimeSetting, Task, db
from tests.harness import wait_for

CONFIG = "/api/v1/system/config"


def test_given_secrets_in_config_then_get_masks_them(make_app, database, make_settings):
    from api.users.accounts import create_user

    app = make_app(**{"security.jwt_secret": "j" * 40, "notifications.webhook_secret": "hook-secret",
                      "notifications.smtp.password": "mail-password"})
    client = app.test_client()
    with app.app_context():
        create_user("root", "correct-horse-battery", role="admin")
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": "correct-horse-battery"}).json
    body = client.get(CONFIG, headers={"Authorization": f"Bearer {token['access_token']}"}).json

    config = body["config"]
    assert config["security"]["jwt_secret"] == "********" and config["security"]["min_secret_length"] == 32
    assert config["notifications"]["webhook_secret"] == "********"
    assert config["notifications"]["smtp"]["password"] == "********"
    assert "j" * 40 not in str(body) and "mail-password" not in str(body)
    assert config["monitoring"]["cpu_alert_percent"] == 80 and "logging.level" in body["runtime_keys"]


@pytest.mark.parametrize("body, key", [
    ({"server": {"port": 1}}, "server.port"),  # needs a restart: not a run-time setting
    ({"logging.level": "LOUD"}, "logging.level"),
    ({"monitoring": {"cpu_alert_percent": 150}}, "monitoring.cpu_alert_percent"),
    ({"features": {"webhooks": "yes"}}, "features.webhooks"),
    ({"notifications": {"webhook_url": "ftp://x"}}, "notifications.webhook_url"),
    ({"nope": 1}, "nope"),
    ({"data": {"backup": {"schedule": "every day"}}}, "data.backup.schedule"),
    ({"data": {"cleanup": {"schedule": "61 * * * *"}}}, "data.cleanup.schedule"),
    ({"rate_limits": {"calls": "lots"}}, "rate_limits.calls"),
    ({"monitoring": {"interval_s": 0}}, "monitoring.interval_s"),
])
def test_given_a_bad_change_then_422_naming_the_key_and_nothing_stored(client, admin, body, key):
    response = client.patch(CONFIG, headers=admin, json=body)

    assert response.status_code == 422 and response.json["code"] == 422 and key in response.json["errors"]
    assert RuntimeSetting.select().count() == 0


def test_given_a_change_then_stored_applied_here_audited_and_put_resets_it(client, admin, app):
    root = logging.getLogger()
    level = root.level
    try:
        changed = client.patch(CONFIG, headers=admin, json={"logging": {"level": "warning"},
                                                            "monitoring.cpu_alert_percent": 70})
        assert changed.status_code == 200, changed.json
        assert changed.json["changed"] == {"logging.level": {"old": None, "new": "WARNING"},
                                           "monitoring.cpu_alert_percent": {"old": None, "new": 70}}
        assert changed.json["config"]["logging"]["level"] == "WARNING" and root.level == logging.WARNING
        rules = {r["name"]: r for r in client.get("/api/v1/monitoring/alert-rules", headers=admin).json["items"]}
        assert rules["host_cpu"]["threshold"] == 70  # the default rule follows the setting
        # (the audit trail also has the request lines of api/audit.py, written off the request's thread)
        audit = wait_for(lambda: LogEntry.get_or_none((LogEntry.category == "operations") & (
            LogEntry.message.contains("monitoring.cpu_alert_percent=70"))))
        assert audit.user_id is not None

        reset = client.put(CONFIG, headers=admin, json={"monitoring": {"cpu_alert_percent": 75}})
        assert reset.json["overrides"] == {"monitoring.cpu_alert_percent": 75}
        assert reset.json["config"]["logging"]["level"] == "INFO"
    finally:
        root.setLevel(level)


def calls_in_history(task_id: str) -> int:
    db.close()
    return Message.select().where(Message.task_id == task_id).count()


def call_echo(client, operator, tool_id) -> str:
    response = client.post(f"/api/v1/tools/{tool_id}/call", headers=operator,
                           json={"tool": "echo", "arguments": {"text": "hi"}})
    assert response.status_code == 200, response.json
    task_id = response.json["task_id"]
    wait_for(lambda: (db.close(), Task.get_or_none(Task.id == task_id))[1])
    return task_id


def test_given_a_running_worker_when_auto_session_is_switched_off_then_it_applies_without_restart(
        client, admin, operator, echo_tool, worker):
    # Given a call without a session lands in the automatic session
    before = call_echo(client, operator, echo_tool["id"])
    assert calls_in_history(before) == 1

    # When features.auto_session is switched off at run time
    changed = client.patch(CONFIG, headers=admin, json={"features": {"auto_session": False}})

    # Then the worker applied it before the answer, and its next call stays out of the history
    assert changed.status_code == 200 and changed.json["pending_workers"] == []
    after = call_echo(client, operator, echo_tool["id"])
    assert calls_in_history(after) == 0
    pid = worker.process.pid
    assert worker.process.poll() is None and worker.process.pid == pid  # the same process: no restart
