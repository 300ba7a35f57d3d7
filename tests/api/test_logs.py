"""/api/v1/logs: filters, visibility, deletion rules, search, stats and export, on SQLite and PostgreSQL."""
import csv
import io
import json
from datetime import datetime, timedelta

import pytest

from api import create_app
from api.users.accounts import create_user
from models import ALL_MODELS, LogEntry, Tool, db
from models.log_sink import log_sink
from tests.api.conftest import LOGIN, PASSWORD, bearer

LOGS = "/api/v1/logs"
T0 = datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture(params=["sqlite", "postgres"])
def engine_app(request, make_settings, database):
    """An app on SQLite, then on this run's PostgreSQL database (emptied first)."""
    assert log_sink.flush()  # audit entries of earlier tests are written before the tables are emptied
    if request.param == "sqlite":
        return create_app(make_settings())
    app = create_app(make_settings(**{"database.url": request.getfixturevalue("postgres_database")}))
    with db.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    return app


@pytest.fixture
def world(engine_app):
    """Users of each role, two tools, and log entries of every kind: returns ({role: headers}, tools, client)."""
    client = engine_app.test_client()
    with engine_app.app_context():
        users = {role: create_user(f"{role}-l", PASSWORD, role=role) for role in ("admin", "operator", "viewer")}
        tools = {name: Tool.create(name=name, transport="stdio", command="true").id for name in ("git", "time")}
        rows = []
        for minute in range(10):  # 10 git stderr lines, one a minute, every third an ERROR
            rows.append(dict(category="mcp", level="ERROR" if minute % 3 == 0 else "INFO", tool_id=tools["git"],
                             source="stderr", message=f"git line {minute} connection refused" if minute % 3 == 0
                             else f"git line {minute} ok", created_at=T0 + timedelta(minutes=minute)))
        for minute in range(4):
            rows.append(dict(category="mcp", level="WARNING", tool_id=tools["time"], source="stderr",
                             message=f"time clock drift {minute}", created_at=T0 + timedelta(minutes=minute)))
        with db.atomic():
            LogEntry.insert_many(rows).execute()
            LogEntry.create(category="system", level="INFO", source="process", message="event=process.started process=web",
                            created_at=T0 + timedelta(hours=1, minutes=5))
            LogEntry.create(category="operations", level="INFO", source="audit", user_id=users["admin"].id,
                            tool_id=tools["git"], message="POST /api/v1/tools/git/start 202 succeeded by admin-l",
                            data={"ip": "10.0.0.1"}, created_at=T0 + timedelta(hours=1, minutes=6))
    logins = {role: bearer(client.post(LOGIN, json={"username": f"{role}-l", "password": PASSWORD}).json["access_token"])
              for role in users}
    assert log_sink.flush()  # the logins' audit entries
    yield logins, tools, client
    assert log_sink.flush()


def total(client, headers, path=LOGS, **query):
    response = client.get(path, headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json["total"]


def test_given_entries_when_filtering_then_the_counts_are_exact(world):
    logins, tools, client = world
    admin = logins["admin"]
    # Entries made by the fixture, plus the audit entries of nothing (logins are writes: audited, but after)
    assert total(client, admin, kind="mcp") == 14
    assert total(client, admin, kind="mcp", tool="git") == 10
    assert total(client, admin, tool=str(tools["time"])) == 4
    assert total(client, admin, kind="mcp", level="ERROR") == 4
    assert total(client, admin, kind="mcp", min_level="WARNING") == 8
    assert total(client, admin, text="connection refused") == 4
    assert total(client, admin, kind="mcp", since="2026-01-01T12:02:00Z", until="2026-01-01T12:05:00+00:00") == 5
    assert total(client, admin, user="admin-l", kind="operations") == 1
    assert total(client, admin, tool="no-such-tool") == 0
    first = client.get(LOGS, headers=admin, query_string={"kind": "mcp", "page_size": 3}).json
    assert first["pages"] == 5 and [e["message"] for e in first["items"]][0] == "time clock drift 3"  # last written first
    assert client.get(LOGS, headers=admin, query_string={"level": "LOUD"}).status_code == 422
    bad = client.get(LOGS, headers=admin, query_string={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
    assert bad.status_code == 422 and bad.json["code"] == 422


def test_given_roles_and_scoped_keys_then_audit_entries_are_admins_and_keys_see_only_their_tools(world):
    logins, tools, client = world
    # Viewers and operators: no operations entries, everything else
    for role in ("viewer", "operator"):
        assert total(client, logins[role], kind="operations") == 0
        assert client.get(f"{LOGS}/operations", headers=logins[role]).status_code == 403
        assert total(client, logins[role], path=f"{LOGS}/system") == 1
    assert total(client, logins["admin"], path=f"{LOGS}/operations") >= 1
    audit_id = client.get(f"{LOGS}/operations", headers=logins["admin"]).json["items"][-1]["id"]
    assert client.get(f"{LOGS}/{audit_id}", headers=logins["viewer"]).status_code == 404

    # A key scoped to `time`: its entries only, no platform-wide ones
    key = client.post("/api/v1/auth/api-keys", headers=logins["viewer"], json={"name": "k", "tool_scope": ["time"]})
    scoped = {"X-API-Key": key.json["key"]}
    listed = client.get(LOGS, headers=scoped, query_string={"page_size": 100}).json
    assert listed["total"] == 4 and {e["tool_id"] for e in listed["items"]} == {tools["time"]}
    assert total(client, scoped, path=f"{LOGS}/system") == 0
    assert total(client, scoped, path=f"{LOGS}/search", q="git") == 0


def test_given_entries_when_deleting_then_admins_delete_and_clear_but_never_audit_entries(world):
    logins, tools, client = world
    admin = logins["admin"]
    items = client.get(LOGS, headers=admin, query_string={"page_size": 100}).json["items"]
    audit = next(e for e in items if e["kind"] == "operations")
    line = next(e for e in items if e["kind"] == "mcp")

    assert client.delete(f"{LOGS}/{line['id']}", headers=logins["operator"]).status_code == 403
    assert client.delete(f"{LOGS}/{audit['id']}", headers=admin).status_code == 403
    assert client.delete(f"{LOGS}/{line['id']}", headers=admin).status_code == 204
    assert client.get(f"{LOGS}/{line['id']}", headers=admin).status_code == 404

    cleared = client.post(f"{LOGS}/clear", headers=admin, json={"tool": "git", "level": "ERROR"})
    assert cleared.status_code == 200 and cleared.json["deleted"] == (4 if line["level"] != "ERROR" else 3)
    assert client.post(f"{LOGS}/clear", headers=admin, json={"kind": "operations"}).status_code == 403
    everything = client.post(f"{LOGS}/clear", headers=admin, json={})
    assert everything.status_code == 200 and total(client, admin, kind="operations") >= 1  # the audit stays
    assert total(client, admin, kind="mcp") == 0


def test_given_old_entries_when_cleaning_up_then_only_older_than_n_days_go(world):
    logins, _tools, client = world
    with db.atomic():
        LogEntry.create(category="system", level="INFO", source="x", message="fresh")
    response = client.delete(f"{LOGS}/cleanup", headers=logins["admin"], query_string={"days": 30})
    assert response.status_code == 200 and response.json["deleted"] == 15  # the fixture's, audit kept
    assert client.delete(f"{LOGS}/cleanup", headers=logins["admin"]).status_code == 422
    assert total(client, logins["admin"], path=f"{LOGS}/system") == 1


def test_given_entries_when_searching_then_the_engines_full_text_index_finds_every_word(world):
    logins, _tools, client = world
    admin = logins["admin"]
    assert total(client, admin, path=f"{LOGS}/search", q="refused connection") == 4  # words in any order
    assert total(client, admin, path=f"{LOGS}/search", q="REFUSED") == 4
    assert total(client, admin, path=f"{LOGS}/search", q="refused", tool="time") == 0
    assert total(client, admin, path=f"{LOGS}/search", q="clock drift") == 4
    assert total(client, admin, path=f"{LOGS}/search", q='clock* "drift"') == 4  # words, never query syntax
    assert total(client, admin, path=f"{LOGS}/search", q="drift OR git") == 0
    assert total(client, admin, path=f"{LOGS}/search", q="---") == 0
    assert client.get(f"{LOGS}/search", headers=admin).status_code == 422


def test_given_entries_when_asking_for_stats_then_counts_by_level_kind_tool_and_bucket_are_exact(world):
    logins, tools, client = world
    stats = client.get(f"{LOGS}/stats", headers=logins["admin"], query_string={
        "since": "2026-01-01T12:00:00Z", "until": "2026-01-01T14:00:00Z", "bucket": "hour"}).json
    assert stats["total"] == 16
    assert stats["by_kind"] == {"mcp": 14, "system": 1, "operations": 1}
    assert stats["by_level"] == {"ERROR": 4, "INFO": 8, "WARNING": 4}
    assert stats["by_tool"] == [{"tool_id": tools["git"], "tool": "git", "count": 11},
                                {"tool_id": tools["time"], "tool": "time", "count": 4}]
    assert [(p["at"], p["total"]) for p in stats["series"]] == [("2026-01-01T12:00:00+00:00", 14),
                                                                ("2026-01-01T13:00:00+00:00", 2)]
    minutes = client.get(f"{LOGS}/stats", headers=logins["viewer"], query_string={
        "since": "2026-01-01T12:00:00Z", "until": "2026-01-01T12:05:00Z", "bucket": "minute", "kind": "mcp"}).json
    assert [p["total"] for p in minutes["series"]] == [2, 2, 2, 2, 1] and minutes["by_level"]["ERROR"] == 2
    too_many = client.get(f"{LOGS}/stats", headers=logins["admin"], query_string={
        "since": "2020-01-01T00:00:00Z", "bucket": "minute"})
    assert too_many.status_code == 422 and too_many.json["code"] == 422


def test_given_entries_when_exporting_then_csv_and_json_lines_hold_exactly_the_visible_filtered_entries(world):
    logins, _tools, client = world
    response = client.get(f"{LOGS}/export", headers=logins["viewer"], query_string={"format": "csv", "kind": "mcp"})
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 14 and rows[0]["message"] == "git line 0 connection refused"

    lines = client.get(f"{LOGS}/export", headers=logins["viewer"], query_string={"format": "jsonl"}).get_data(as_text=True)
    records = [json.loads(line) for line in lines.splitlines()]
    assert len(records) == 15 and not any(r["kind"] == "operations" for r in records)  # viewers: no audit
    admin_lines = client.get(f"{LOGS}/export", headers=logins["admin"],
                             query_string={"format": "jsonl", "kind": "operations", "limit": 1}).get_data(as_text=True)
    assert json.loads(admin_lines)["data"] == {"ip": "10.0.0.1"}
    assert client.get(f"{LOGS}/export", headers=logins["viewer"], query_string={"format": "xml"}).status_code == 422
