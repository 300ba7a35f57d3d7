"""The findings of the security probe (issue 14), each as it was reproduced: ids and nesting, body
sizes, reads of tasks still in flight, operators' reach, users deleted with their data, renames.

(Scopes on every path are swept in test_rbac.py.)"""
from __future__ import annotations

import pytest

from api.jobs import remember_in_flight
from models import Message, Session, Task, Tool, User
from tests.api.conftest import bearer
from jobs import stream
from jobs import Job

KEYS = "/api/v1/auth/api-keys"


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


@pytest.fixture
def operator(headers_for):
    return headers_for("operator")


def make_tool(app, name, **fields) -> int:
    with app.app_context():
        return Tool.create(name=name, transport="stdio", command="uvx", **fields).id


# -- 10. ids: ASCII digits in the 64-bit range, everywhere -------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/tools/99999999999999999999"),
    ("GET", "/api/v1/tools/²"),
    ("GET", "/api/v1/tools/١"),
    ("GET", "/api/v1/tools/１"),
    ("GET", "/api/v1/users/99999999999999999999"),
    ("GET", "/api/v1/users/１"),
    ("GET", "/api/v1/sessions/99999999999999999999"),
    ("GET", "/api/v1/sessions/99999999999999999999/messages"),
    ("DELETE", "/api/v1/auth/api-keys/99999999999999999999"),
])
def test_given_an_id_that_is_not_ascii_or_past_64_bits_in_a_path_then_404(app, client, admin, method, path):
    make_tool(app, "time")  # id 1: "١" and "１" must not read as it

    response = client.open(path, method=method, headers=admin)

    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"/api/v1/tasks?tool_id={2 ** 70}", None),
    ("GET", "/api/v1/tasks?tool_id=１", None),
    ("GET", f"/api/v1/sessions/1/messages?tool_id={2 ** 70}", None),
    ("POST", "/api/v1/tools/time/call", {"tool": "x", "session_id": 2 ** 70}),
    ("POST", "/api/v1/mcp/unified/call", {"name": "time__x", "session_id": 2 ** 70}),
    ("POST", "/api/v1/mcp/agent/execute", {"steps": [{"tool": "time", "call": "x"}], "session_id": 2 ** 70}),
    ("POST", KEYS, {"name": "k", "tool_scope": [2 ** 70]}),
])
def test_given_an_id_past_64_bits_in_a_query_or_body_then_422(app, client, admin, method, path, body):
    make_tool(app, "time")
    with app.app_context():
        Session.create(id=1, user_id=User.get(User.username == "admin-user").id)

    response = client.open(path, method=method, headers=admin, **({"json": body} if body is not None else {}))

    assert response.status_code == 422 and response.json["code"] == 422


# -- 8. request sizes and nesting --------------------------------------------------------------------

def test_given_a_body_over_the_limit_then_413_in_the_one_error_shape_even_anonymous(make_app):
    client = make_app(**{"server.max_body_bytes": 1024}).test_client()

    response = client.post("/api/v1/auth/login", data=b'{"username": "' + b"x" * 4096 + b'"}',
                           content_type="application/json")

    assert response.status_code == 413
    assert response.json["code"] == 413 and response.json["status"] == "Request Entity Too Large"


def test_given_a_10mb_call_body_by_default_then_413_and_nothing_stored(app, client, admin):
    make_tool(app, "time")

    response = client.post("/api/v1/tools/time/call?async=true", headers=admin,
                           json={"tool": "x", "arguments": {"blob": "x" * (10 * 1024 * 1024)}})

    assert response.status_code == 413 and response.json["code"] == 413
    with app.app_context():
        assert Task.select().count() == 0


@pytest.mark.parametrize("depth", [100, 5000])
def test_given_json_nested_deeper_than_the_limit_then_422(client, admin, depth):
    nested = "[" * depth + "]" * depth
    body = '{"name": "w", "definition": {"steps": ' + nested + "}}"

    for path in ("/api/v1/tasks", "/api/v1/mcp/unified/call"):
        response = client.post(path, headers=admin, data=body, content_type="application/json")
        assert response.status_code == 422 and "nests deeper than 64" in response.json["message"], path


# -- 9. tasks in flight, before their row exists ---------------------------------------------------

@pytest.fixture
def in_flight_call(app, operator):
    """A sync call of operator-user on tool `mine` whose wait ran out (202): a stream, no row yet."""
    tool_id = make_tool(app, "mine")
    make_tool(app, "other")
    with app.app_context():
        owner = User.get(User.username == "operator-user")
        job = Job(kind="call", tool_id=tool_id, user_id=owner.id, args={"tool": "x", "arguments": {"secret": 1}})
        from flask import current_app
        with app.test_request_context():
            remember_in_flight(job)
            stream.publish_now(current_app.extensions["mcps.redis"], current_app.extensions["mcps.settings"],
                               job.id, {"type": "progress", "progress": 1})
    return job


def test_given_a_task_in_flight_then_another_viewer_and_a_key_scoped_elsewhere_cannot_read_it(
        client, headers_for, operator, in_flight_call):
    scoped = client.post(KEYS, headers=operator, json={"name": "k", "tool_scope": ["other"]}).json["key"]
    own_key = client.post(KEYS, headers=operator, json={"name": "k2", "tool_scope": ["mine"]}).json["key"]
    task = f"/api/v1/tasks/{in_flight_call.id}"

    for headers in (headers_for("viewer"), {"X-API-Key": scoped}):
        for path in (task, f"{task}/status", f"{task}/events"):
            assert client.get(path, headers=headers).status_code == 404, (headers, path)
    mine = client.get(task, headers={"X-API-Key": own_key})
    assert mine.status_code == 200 and mine.json["status"] == "running" and mine.json["tool_id"] == in_flight_call.tool_id


def test_given_a_stream_without_any_owner_then_viewers_and_scoped_keys_get_404(app, client, headers_for, operator):
    make_tool(app, "mine")
    with app.test_request_context():
        from flask import current_app
        stream.publish_now(current_app.extensions["mcps.redis"], current_app.extensions["mcps.settings"],
                           "anonymous1", {"type": "progress"})
    scoped = client.post(KEYS, headers=operator, json={"name": "k", "tool_scope": ["mine"]}).json["key"]

    assert client.get("/api/v1/tasks/anonymous1", headers=headers_for("viewer")).status_code == 404
    assert client.get("/api/v1/tasks/anonymous1", headers={"X-API-Key": scoped}).status_code == 404


# -- 13. operators' reach --------------------------------------------------------------------------

@pytest.mark.parametrize("change", [{"call_timeout_s": 3600}, {"memory_limit_mb": None}, {"cpu_limit_percent": None},
                                    {"restart_on_failure": False}, {"max_restart_attempts": 100}])
def test_given_an_operator_when_changing_limits_timeouts_or_restart_policy_then_403_and_admins_may(
        app, client, admin, operator, change):
    make_tool(app, "time", memory_limit_mb=256, cpu_limit_percent=50, call_timeout_s=30)

    assert client.put("/api/v1/tools/time", headers=operator, json=change).status_code == 403
    assert client.put("/api/v1/tools/time", headers=admin, json=change).status_code == 200
    assert client.put("/api/v1/tools/time", headers=operator, json={"description": "fine"}).status_code == 200


def test_given_another_users_workflow_then_an_operator_may_not_edit_or_delete_it_but_its_owner_and_admins_may(
        app, client, admin, headers_for):
    make_tool(app, "time")
    owner, other = headers_for("operator", "olga"), headers_for("operator", "otto")
    definition = {"steps": [{"id": "a", "tool": "time", "call": "now"}]}
    workflow = client.post("/api/v1/tasks", headers=owner, json={"name": "w", "definition": definition}).json["id"]

    assert client.put(f"/api/v1/tasks/{workflow}", headers=other, json={"name": "mine now"}).status_code == 403
    assert client.delete(f"/api/v1/tasks/{workflow}", headers=other).status_code == 403
    assert client.put(f"/api/v1/tasks/{workflow}", headers=owner, json={"name": "renamed"}).status_code == 200
    assert client.put(f"/api/v1/tasks/{workflow}", headers=admin, json={"schedule": None}).status_code == 200
    assert client.delete(f"/api/v1/tasks/{workflow}", headers=admin).status_code == 204


# -- 3. an admin's API key manages no users ----------------------------------------------------------

def test_given_an_admins_scoped_key_when_managing_users_then_403(app, client, admin):
    make_tool(app, "time")
    key = {"X-API-Key": client.post(KEYS, headers=admin, json={"name": "k", "tool_scope": ["time"]}).json["key"]}
    admin_id = client.get("/api/v1/auth/me", headers=admin).json["id"]

    created = client.post("/api/v1/users", headers=key, json={"username": "mallory", "role": "admin"})

    assert created.status_code == 403
    assert client.get("/api/v1/users", headers=key).status_code == 403
    assert client.get(f"/api/v1/users/{admin_id}", headers=key).status_code == 403
    assert client.post(f"/api/v1/users/{admin_id}/reset-password", headers=key, json={}).status_code == 403
    with app.app_context():
        assert User.get_or_none(User.username == "mallory") is None


# -- 4. a deleted user's data goes with them -----------------------------------------------------------

def test_given_a_deleted_user_then_the_next_user_with_the_same_id_inherits_nothing(app, client, admin, make_user, login):
    # Given a user (the highest id) with a session, a message, a call record and a scheduled workflow
    doomed = make_user("doomed", "operator")
    with app.app_context():
        session = Session.create(user_id=doomed.id, name="private")
        Message.create(session=session, user_id=doomed.id, tool_name="x", status="succeeded", arguments={"pw": 1})
        Task.create(id="wf", kind="workflow", status="created", user_id=doomed.id, schedule="* * * * *",
                    definition={"steps": []})
        Task.create(id="call", kind="call", status="succeeded", user_id=doomed.id)

    # When the user is deleted and a new user gets the same id (SQLite reuses the highest)
    assert client.delete(f"/api/v1/users/{doomed.id}", headers=admin).status_code == 204
    heir = make_user("heir", "operator")
    heir_headers = bearer(login("heir")["access_token"])

    # Then nothing of theirs is left to be seen or run
    assert heir.id == doomed.id
    with app.app_context():
        assert Session.select().where(Session.user_id == heir.id).count() == 0
        assert Message.select().where(Message.user_id == heir.id).count() == 0
        assert Task.select().where(Task.user_id == heir.id).count() == 0
    assert client.get("/api/v1/sessions", headers=heir_headers).json["total"] == 0
    assert client.get("/api/v1/tasks?mine=true", headers=heir_headers).json["total"] == 0


# -- 6. renaming tools moves no rights -------------------------------------------------------------------

def test_given_a_key_scoped_to_time_when_tools_are_renamed_then_it_still_reaches_only_the_original(
        app, client, admin):
    time_id = make_tool(app, "time")
    make_tool(app, "secret-tool", env={"DB_PASSWORD": "hunter2"})
    created = client.post(KEYS, headers=admin, json={"name": "k", "tool_scope": ["time"]}).json
    key = {"X-API-Key": created["key"]}
    assert created["tool_scope"] == [time_id] and created["tool_scope_names"] == ["time"]

    client.put("/api/v1/tools/time", headers=admin, json={"name": "time-old"})
    client.put("/api/v1/tools/secret-tool", headers=admin, json={"name": "time"})

    assert client.get("/api/v1/tools/time", headers=key).status_code == 404
    assert client.get("/api/v1/tools/time-old", headers=key).json["id"] == time_id
    exported = client.get("/api/v1/tools/export?include_secrets=true", headers=key).json["mcpServers"]
    assert list(exported) == ["time-old"]
    listed = client.get(KEYS, headers=admin).json["items"][0]
    assert listed["tool_scope"] == [time_id] and listed["tool_scope_names"] == ["time-old"]


def test_given_a_deleted_tool_then_its_id_leaves_every_scope(app, client, admin):
    make_tool(app, "time")
    doomed = make_tool(app, "doomed")
    key_id = client.post(KEYS, headers=admin, json={"name": "k", "tool_scope": ["doomed"]}).json["id"]

    assert client.delete("/api/v1/tools/doomed", headers=admin).status_code == 204
    reborn = make_tool(app, "reborn")  # SQLite hands the deleted highest id to the next tool

    assert reborn == doomed
    from models import ApiKey
    with app.app_context():
        assert ApiKey.get_by_id(key_id).tool_scope == []


def test_given_an_unknown_tool_in_a_scope_when_creating_a_key_then_422(client, admin):
    response = client.post(KEYS, headers=admin, json={"name": "k", "tool_scope": ["nope"]})

    assert response.status_code == 422 and "nope" in response.json["message"]
