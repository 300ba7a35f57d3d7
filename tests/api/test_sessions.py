"""/api/v1/sessions: CRUD per user, the automatic session, and the history written by real calls."""
from __future__ import annotations

import json
from datetime import timedelta

from api.sessions.routes import prune_sessions
from models import Message, Session, utcnow
from tests.harness import wait_for
from tests.api.e2e import create_tool, stdio_body

SESSIONS = "/api/v1/sessions"


def test_given_an_operator_when_creating_and_editing_a_session_then_it_is_theirs(client, operator):
    created = client.post(SESSIONS, headers=operator, json={"name": "research"})
    assert created.status_code == 201 and created.json["is_auto"] is False

    renamed = client.put(f"{SESSIONS}/{created.json['id']}", headers=operator, json={"name": "deep research"})

    assert renamed.json["name"] == "deep research"
    listed = client.get(SESSIONS, headers=operator).json
    assert [s["name"] for s in listed["items"]] == ["deep research"] and listed["total"] == 1


def test_given_another_users_session_when_opened_then_404(client, headers_for):
    alice, bob = headers_for("operator", "alice"), headers_for("operator", "bob")
    session_id = client.post(SESSIONS, headers=alice, json={"name": "private"}).json["id"]

    assert client.get(f"{SESSIONS}/{session_id}", headers=bob).status_code == 404
    assert client.delete(f"{SESSIONS}/{session_id}", headers=bob).status_code == 404
    assert client.get(SESSIONS, headers=bob).json["total"] == 0


def test_given_unknown_fields_when_creating_a_session_then_422(client, operator):
    reply = client.post(SESSIONS, headers=operator, json={"name": "x", "colour": "red"})

    assert reply.status_code == 422 and "colour" in str(reply.json["errors"])


def test_given_no_session_yet_when_asking_for_the_automatic_one_then_created_once(client, operator):
    first = client.post(f"{SESSIONS}/auto", headers=operator).json
    second = client.post(f"{SESSIONS}/auto", headers=operator).json

    assert first["id"] == second["id"] and first["is_auto"] is True


def test_given_calls_with_and_without_a_session_then_each_lands_in_its_history(client, operator, admin, worker):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    assert client.post(f"/api/v1/tools/{tool['id']}/start?wait=true", headers=admin).json["status"] == "succeeded"
    session_id = client.post(SESSIONS, headers=operator, json={"name": "named"}).json["id"]

    for text, extra in (("in-named", {"session_id": session_id}), ("in-auto", {})):
        reply = client.post(f"/api/v1/tools/{tool['id']}/call", headers=operator,
                            json={"tool": "echo", "arguments": {"text": text}, **extra})
        assert reply.status_code == 200, reply.json

    named = wait_for(lambda: client.get(f"{SESSIONS}/{session_id}/messages", headers=operator).json["items"])
    assert [(m["tool_name"], m["arguments"], m["status"]) for m in named] == [("echo", {"text": "in-named"},
                                                                             "succeeded")]
    assert json.loads(named[0]["result_summary"])[0]["text"] == "legacy:in-named" and named[0]["duration_ms"] > 0
    auto = client.post(f"{SESSIONS}/auto", headers=operator).json
    auto_messages = wait_for(lambda: client.get(f"{SESSIONS}/{auto['id']}/messages", headers=operator).json["items"])
    assert [m["arguments"]["text"] for m in auto_messages] == ["in-auto"]


def test_given_a_foreign_session_id_when_calling_then_404(client, headers_for, admin, worker):
    alice, bob = headers_for("operator", "alice"), headers_for("operator", "bob")
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    client.post(f"/api/v1/tools/{tool['id']}/start?wait=true", headers=admin)
    session_id = client.post(SESSIONS, headers=alice, json={"name": "alice's"}).json["id"]

    reply = client.post(f"/api/v1/tools/{tool['id']}/call", headers=bob,
                        json={"tool": "echo", "arguments": {"text": "x"}, "session_id": session_id})

    assert reply.status_code == 404


def test_given_idle_sessions_when_pruned_then_only_old_ones_go_with_their_messages(app, make_user):
    user = make_user("ann", "operator")
    old = Session.create(user_id=user.id, name="old", last_activity_at=utcnow() - timedelta(days=40))
    Message.create(session=old, status="succeeded", tool_name="echo")
    recent = Session.create(user_id=user.id, name="recent")

    assert prune_sessions(30) == 1

    assert list(Session.select()) == [recent] and Message.select().count() == 0
