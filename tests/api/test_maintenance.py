"""The system API's maintenance: schedules listed with their outcome and run on demand, backups taken,
listed, downloaded, deleted and restored, all as jobs on a real worker and recorded as tasks."""
from __future__ import annotations

import gzip
from datetime import timedelta

from api.users.accounts import create_user
from models import MetricSample, Tool, User, utcnow
from tests.api.conftest import PASSWORD, bearer
from tests.api.e2e import wait_task

SCHEDULES = "/api/v1/system/schedules"
BACKUPS = "/api/v1/system/backups"


def take_backup(client, admin) -> dict:
    response = client.post(f"{BACKUPS}?wait=true", headers=admin)
    assert response.status_code == 200 and response.json["status"] == "succeeded", response.json
    return response.json["result"]["backup"]


def test_given_the_config_then_schedules_list_every_periodic_job_with_its_trigger(client, operator):
    items = {item["name"]: item for item in client.get(SCHEDULES, headers=operator).json["items"]}

    assert {"heartbeat", "scheduled_workflows", "backup", "retention"} <= set(items)
    assert items["backup"] | {"next_run_at": None} == {
        "name": "backup", "kind": "backup", "schedule": "0 3 * * *", "enabled": True, "next_run_at": None,
        "last_run": None}
    assert items["backup"]["next_run_at"].endswith("T03:00:00+00:00")
    assert items["retention"]["kind"] == "retention" and items["heartbeat"]["kind"] is None


def test_given_a_disabled_job_then_listed_without_a_next_run(make_app, database):
    app = make_app(**{"data.backup.enabled": False})
    client = app.test_client()
    with app.app_context():
        create_user("op", PASSWORD, role="operator")
    token = client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD}).json["access_token"]

    items = {i["name"]: i for i in client.get(SCHEDULES, headers=bearer(token)).json["items"]}

    assert items["backup"]["enabled"] is False and items["backup"]["next_run_at"] is None


def test_given_a_worker_when_an_admin_runs_retention_now_then_a_task_records_its_counts(app, client, admin, worker):
    # Given host samples of an hour two days back (cpu = the minute), past the raw period of a day
    hour = (utcnow() - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    with app.app_context():
        MetricSample.insert_many([{"source": "host", "data": {"cpu_percent": m}, "created_at": hour + timedelta(minutes=m)}
                                  for m in range(60)]).execute()

    # When retention is run now
    response = client.post(f"{SCHEDULES}/retention/run", headers=admin)
    assert response.status_code == 202
    task = wait_task(client, admin, response.json["task_id"])

    # Then its task counts what it deleted and rolled up, and the series reads the hour from its roll-up
    assert task["status"] == "succeeded" and task["kind"] == "retention"
    assert set(task["result"]["deleted"]) == {"logs", "history", "tasks", "sessions", "metric_samples",
                                              "metric_rollups", "temp_files"}
    assert task["result"]["rolled_up"] == {"samples": 60, "rollups": 1}
    points = client.get("/api/v1/monitoring/metrics", headers=admin, query_string={
        "source": "host", "since": hour.isoformat() + "Z", "until": (hour + timedelta(hours=1)).isoformat() + "Z",
        "step": 3600}).json["points"]
    assert [(p["samples"], p["cpu_percent"], p["max"]["cpu_percent"]) for p in points] == [(60, 29.5, 59)]
    with app.app_context():
        assert MetricSample.select().count() == 0
    assert task["args"] == {"schedule": "retention", "trigger": "manual"} and task["duration_ms"] is not None
    last = {i["name"]: i for i in client.get(SCHEDULES, headers=admin).json["items"]}["retention"]["last_run"]
    assert last["task_id"] == task["id"] and last["status"] == "succeeded" and last["trigger"] == "manual"


def test_given_unknown_or_in_scheduler_jobs_when_run_now_then_404_and_409(client, admin):
    assert client.post(f"{SCHEDULES}/nope/run", headers=admin).status_code == 404
    response = client.post(f"{SCHEDULES}/heartbeat/run", headers=admin)
    assert response.status_code == 409 and response.json["code"] == 409


def test_given_a_backup_when_listed_downloaded_restored_and_deleted_then_each_does_what_it_says(
        app, client, admin, worker):
    # Given a tool, and a backup taken through the API
    with app.app_context():
        Tool.create(name="kept", transport="stdio", command="uvx")
    backup = take_backup(client, admin)
    assert [b["name"] for b in client.get(BACKUPS, headers=admin).json["items"]] == [backup["name"]]

    # When it is downloaded, then it is the gzipped database
    download = client.get(f"{BACKUPS}/{backup['name']}", headers=admin)
    assert download.status_code == 200 and gzip.decompress(download.data)[:15] == b"SQLite format 3"

    # When the tool is deleted and the backup restored, then the tool is back (and the admin still exists)
    with app.app_context():
        Tool.delete().execute()
    restored = client.post(f"{BACKUPS}/{backup['name']}/restore?wait=true", headers=admin)
    assert restored.status_code == 200 and restored.json["result"]["restored"] == backup["name"], restored.json
    with app.app_context():
        assert [t.name for t in Tool.select()] == ["kept"] and User.select().count() == 1

    # When it is deleted, then it is gone
    assert client.delete(f"{BACKUPS}/{backup['name']}", headers=admin).status_code == 204
    assert client.get(BACKUPS, headers=admin).json["items"] == []
    assert client.get(f"{BACKUPS}/{backup['name']}", headers=admin).status_code == 404


def test_given_names_that_are_not_backups_then_404_and_nothing_outside_the_directory_is_read(client, admin):
    for name in ("..%2Fmcps.db", "mcps.db", "%2Fetc%2Fpasswd", "jwt_secret", "..", "mcps-20260101T000000Z-abcdef.sql"):
        for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/restore")):
            response = client.open(f"{BACKUPS}/{name}{path}", method=method, headers=admin)
            assert response.status_code == 404, (method, name, response.status_code)


def test_given_an_operator_then_backups_and_run_now_are_refused(client, operator):
    assert client.get(BACKUPS, headers=operator).status_code == 403
    assert client.post(BACKUPS, headers=operator).status_code == 403
    assert client.post(f"{SCHEDULES}/retention/run", headers=operator).status_code == 403
