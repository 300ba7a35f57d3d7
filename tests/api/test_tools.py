"""/api/v1/tools end to end: CRUD with masked and encrypted secrets, RBAC, lifecycle jobs run by a real
worker process on real MCP servers, live status, logs, capabilities, import/export.

The app and the worker share the test's settings (same SQLite file, same Redis namespace): see the
fixtures of tests/api/conftest.py and the helpers of tests/api/e2e.py.
"""
from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import psutil
import pytest

from api import create_app
from models import LogEntry, Tool
from tests.api.e2e import TOOLS, create_tool, process_gone, raw_column, start_tool, stdio_body, wait_task
from tests.harness import SERVERS, wait_for

# -- CRUD --------------------------------------------------------------------------------------

def test_given_an_admin_when_creating_a_stdio_tool_then_201_with_its_definition(client, admin):
    response = client.post(TOOLS, headers=admin, json=stdio_body(
        "legacy", "legacy_server.py", description="hand-written", tags=["test"], call_timeout_s=5))

    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "legacy" and body["transport"] == "stdio" and body["command"] == sys.executable
    assert body["status"] == "STOPPED" and body["desired_state"] == "stopped"
    assert body["tags"] == ["test"] and body["call_timeout_s"] == 5 and body["url"] is None


def test_given_an_admin_when_creating_a_streamable_http_tool_then_201(client, admin):
    response = client.post(TOOLS, headers=admin, json={
        "name": "remote", "transport": "streamable_http", "url": "https://mcp.example.com/mcp"})

    assert response.status_code == 201, response.json
    assert response.json["url"] == "https://mcp.example.com/mcp" and response.json["command"] is None


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "transport": "streamable_http", "url": "ftp://host/mcp"}, "url"),
    ({"name": "x", "transport": "streamable_http", "url": "not a url"}, "url"),
    ({"name": "x", "transport": "stdio", "command": ""}, "command"),
    ({"name": "x", "transport": "stdio"}, "command"),
    ({"name": "x", "transport": "stdio", "command": "python", "url": "http://host/mcp"}, "url"),
    ({"name": "x", "transport": "streamable_http", "url": "http://h/mcp", "command": "python"}, "command"),
    ({"name": "x", "transport": "stdio", "command": "python", "colour": "red"}, "colour"),
    ({"name": "Bad_Name", "transport": "stdio", "command": "python"}, "name"),
    ({"name": "-x", "transport": "stdio", "command": "python"}, "name"),
    ({"name": "42", "transport": "stdio", "command": "python"}, "name"),
    ({"name": "x", "transport": "stdio", "command": "python", "env": {"BAD-NAME": "1"}}, "env"),
    ({"name": "x", "transport": "stdio", "command": "python", "env": {"1ST": "1"}}, "env"),
    ({"name": "x", "transport": "streamable_http", "url": "http://h/mcp", "headers": {"Bad Header": "1"}}, "headers"),
    ({"name": "x", "transport": "carrier-pigeon", "command": "python"}, "transport"),
])
def test_given_bad_input_when_creating_then_422_naming_the_field(client, admin, body, field):
    response = client.post(TOOLS, headers=admin, json=body)

    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])
    assert Tool.select().count() == 0


def test_given_an_existing_name_when_creating_again_then_409(client, admin):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    response = client.post(TOOLS, headers=admin, json=stdio_body("legacy", "legacy_server.py"))

    assert response.status_code == 409 and "legacy" in response.json["message"]


def test_given_secrets_when_stored_then_masked_in_every_answer_and_encrypted_in_the_database(client, admin):
    created = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py",
                                                      env={"API_TOKEN": "s3cret-env-value"}))
    remote = create_tool(client, admin, name="remote", transport="streamable_http", url="https://h/mcp",
                         headers={"Authorization": "Bearer s3cret-header-value"})

    answers = [created, remote, client.get(TOOLS, headers=admin).json,
               client.get(f"{TOOLS}/{created['id']}", headers=admin).json,
               client.get(f"{TOOLS}/remote", headers=admin).json,
               client.put(f"{TOOLS}/legacy", headers=admin, json={"description": "changed"}).json]

    for answer in answers:
        assert "s3cret" not in str(answer)
    assert created["env"] == {"API_TOKEN": "********"}
    assert remote["headers"] == {"Authorization": "********"}
    assert "s3cret" not in raw_column(created["id"], "env") and "s3cret" not in raw_column(remote["id"], "headers")
    assert Tool.get_by_id(created["id"]).env == {"API_TOKEN": "s3cret-env-value"}


def test_given_a_masked_tool_when_put_back_then_its_secrets_are_kept(client, admin):
    """A client that GETs a tool and PUTs its env back unchanged must not replace secrets by the mask."""
    created = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py",
                                                      env={"API_TOKEN": "s3cret", "MODE": "fast"}))

    response = client.put(f"{TOOLS}/legacy", headers=admin, json={"env": {**created["env"], "MODE": "slow"}})

    assert response.status_code == 200, response.json
    assert Tool.get_by_id(created["id"]).env == {"API_TOKEN": "s3cret", "MODE": "slow"}


def test_given_an_operator_when_changing_the_description_then_200(client, admin, operator):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    response = client.put(f"{TOOLS}/legacy", headers=operator, json={"description": "now documented"})

    assert response.status_code == 200 and response.json["description"] == "now documented"


@pytest.mark.parametrize("change", [{"command": "/bin/sh"}, {"env": {"A": "1"}}, {"args": ["-c", "id"]},
                                    {"url": "http://h/mcp"}, {"transport": "streamable_http"}])
def test_given_an_operator_when_changing_what_runs_then_403_and_unchanged(client, admin, operator, change):
    created = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    response = client.put(f"{TOOLS}/legacy", headers=operator, json=change)

    assert response.status_code == 403, response.json
    assert Tool.get_by_id(created["id"]).command == sys.executable and Tool.get_by_id(created["id"]).env is None


def test_given_an_admin_when_switching_transport_inconsistently_then_422(client, admin):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    response = client.put(f"{TOOLS}/legacy", headers=admin, json={"transport": "streamable_http"})

    assert response.status_code == 422 and "url" in response.json["errors"]


def test_given_a_tool_when_renamed_then_found_by_its_new_name_and_409_on_a_taken_one(client, admin, operator):
    created = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    create_tool(client, admin, **stdio_body("taken", "legacy_server.py"))

    renamed = client.put(f"{TOOLS}/legacy", headers=operator, json={"name": "renamed"})
    taken = client.put(f"{TOOLS}/renamed", headers=operator, json={"name": "taken"})

    assert renamed.status_code == 200 and renamed.json["id"] == created["id"]
    assert client.get(f"{TOOLS}/legacy", headers=operator).status_code == 404
    assert taken.status_code == 409 and Tool.get_by_id(created["id"]).name == "renamed"


def test_given_a_viewer_when_creating_then_403(client, viewer):
    response = client.post(TOOLS, headers=viewer, json=stdio_body("legacy", "legacy_server.py"))

    assert response.status_code == 403
    assert Tool.select().count() == 0


def test_given_a_tool_when_looked_up_by_id_or_name_then_the_same_tool_and_404_otherwise(client, admin, viewer):
    created = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    by_id = client.get(f"{TOOLS}/{created['id']}", headers=viewer)
    by_name = client.get(f"{TOOLS}/legacy", headers=viewer)
    missing = client.get(f"{TOOLS}/nope", headers=viewer)

    assert by_id.status_code == by_name.status_code == 200 and by_id.json == by_name.json
    assert missing.status_code == 404 and missing.json["message"] == "no tool nope"


def test_given_tools_when_listed_with_filters_then_only_matching(client, admin, viewer):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py", tags=["a"]))
    create_tool(client, admin, name="remote", transport="streamable_http", url="https://h/mcp", category="web")

    names = lambda query: [t["name"] for t in client.get(f"{TOOLS}?{query}", headers=viewer).json["items"]]

    assert names("") == ["legacy", "remote"]
    assert names("transport=stdio") == ["legacy"]
    assert names("category=web") == ["remote"]
    assert names("tag=a") == ["legacy"]
    assert names("q=remo") == ["remote"]


def test_given_a_running_tool_when_deleted_then_stopped_first_and_its_process_is_gone(client, admin, legacy_tool):
    pid = Tool.get_by_id(legacy_tool["id"]).pid
    assert pid and not process_gone(pid)

    response = client.delete(f"{TOOLS}/legacy", headers=admin)

    assert response.status_code == 204
    assert client.get(f"{TOOLS}/legacy", headers=admin).status_code == 404
    wait_for(lambda: process_gone(pid), timeout=5)


def test_given_a_deleted_tool_when_a_new_one_is_created_then_it_does_not_inherit_its_logs(client, admin, worker):
    """SQLite reuses the highest rowid once it is deleted: the new tool gets the old one's id."""
    old = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    client.post(f"{TOOLS}/legacy/start?wait=true", headers=admin)
    assert client.delete(f"{TOOLS}/legacy", headers=admin).status_code == 204

    new = create_tool(client, admin, **stdio_body("fresh", "legacy_server.py"))

    assert client.get(f"{TOOLS}/{new['id']}/logs", headers=admin).json["items"] == []
    deleted = LogEntry.get((LogEntry.source == "api") & LogEntry.message.contains("deleted"))
    assert deleted.tool_id is None and deleted.message == f"tool legacy (id {old['id']}) deleted by admin-user"


def test_given_a_tool_left_running_by_a_dead_worker_when_deleted_then_204_at_once(client, admin):
    created = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    Tool.update(status="RUNNING", desired_state="running", pid=999999, owner_worker="vm-1-dead").where(
        Tool.id == created["id"]).execute()  # no worker holds its lease: no process anywhere
    started = time.monotonic()

    response = client.delete(f"{TOOLS}/legacy", headers=admin)

    assert response.status_code == 204 and time.monotonic() - started < 2
    assert Tool.get_or_none(Tool.id == created["id"]) is None


# -- lifecycle over REST -----------------------------------------------------------------------

def test_given_a_tool_when_started_then_202_and_the_task_succeeds(client, admin, operator, worker):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    response = client.post(f"{TOOLS}/{tool['id']}/start", headers=operator)

    assert response.status_code == 202, response.json
    task_id = response.json["task_id"]
    assert response.headers["Location"].endswith(f"/tasks/{task_id}")
    task = wait_task(client, operator, task_id)
    assert task["status"] == "succeeded" and task["kind"] == "start" and task["tool_id"] == tool["id"]
    assert task["result"]["status"] == "RUNNING" and task["result"]["pid"]
    assert client.get(f"{TOOLS}/{tool['id']}", headers=operator).json["status"] == "RUNNING"


def test_given_wait_true_when_starting_then_the_finished_task(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    task = start_tool(client, admin, tool["id"])

    assert task["kind"] == "start" and task["tool_id"] == tool["id"]
    assert task["result"]["status"] == "RUNNING" and task["result"]["pid"] == Tool.get_by_id(tool["id"]).pid
    # A finished task has its times in this answer already, not only when read again
    assert task["started_at"] and task["finished_at"] and task["started_at"] <= task["finished_at"]


def test_given_concurrent_starts_or_a_start_of_a_running_tool_then_one_process(client, operator, admin, worker):
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))  # ~1.5 s: the starts overlap

    tasks = [client.post(f"{TOOLS}/echo/start", headers=operator).json["task_id"] for _ in range(3)]
    results = [wait_task(client, operator, task_id) for task_id in tasks]
    again = client.post(f"{TOOLS}/echo/start?wait=true", headers=operator).json

    pids = {r["result"]["pid"] for r in results} | {again["result"]["pid"]}
    assert [r["status"] for r in results] == ["succeeded"] * 3 and len(pids) == 1
    assert Tool.get_by_id(tool["id"]).pid in pids


def test_given_a_missing_command_when_started_then_failed_with_the_reason(client, admin, worker):
    create_tool(client, admin, name="ghost", transport="stdio", command="/nonexistent/mcp-server",
                max_restart_attempts=0)

    response = client.post(f"{TOOLS}/ghost/start?wait=true", headers=admin)

    # The one error shape, with the status of its error type (as a failed call answers)
    assert response.status_code == 502, response.json
    assert response.json["code"] == 502 and "No such file or directory" in response.json["message"]
    assert response.json["errors"]["error_type"] == "start_failed" and response.json["errors"]["task_id"]
    status = client.get(f"{TOOLS}/ghost/status", headers=admin).json
    assert status["status"] == "ERROR" and "No such file or directory" in status["last_error"]


def test_given_a_wait_that_runs_out_when_starting_then_202_and_the_task_can_be_read_at_once(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))  # starts in ~1.5 s

    response = client.post(f"{TOOLS}/{tool['id']}/start?wait=true&timeout=0.1", headers=admin)

    assert response.status_code == 202, response.json
    task = client.get(response.headers["Location"], headers=admin)
    assert task.status_code == 200 and task.json["kind"] == "start" and task.json["status"] in ("queued", "running")
    assert wait_task(client, admin, response.json["task_id"])["status"] == "succeeded"


def test_given_a_running_tool_when_restarted_then_a_new_process(client, operator, legacy_tool):
    old_pid = Tool.get_by_id(legacy_tool["id"]).pid

    response = client.post(f"{TOOLS}/legacy/restart?wait=true", headers=operator)

    assert response.status_code == 200 and response.json["status"] == "succeeded", response.json
    new_pid = response.json["result"]["pid"]
    assert new_pid and new_pid != old_pid
    wait_for(lambda: process_gone(old_pid), timeout=5)
    assert client.get(f"{TOOLS}/legacy/status", headers=operator).json["pid"] == new_pid


def test_given_a_running_tool_when_stopped_then_stopped_and_process_gone(client, operator, legacy_tool):
    pid = Tool.get_by_id(legacy_tool["id"]).pid

    response = client.post(f"{TOOLS}/legacy/stop?wait=true", headers=operator)

    assert response.status_code == 200 and response.json["status"] == "succeeded", response.json
    status = client.get(f"{TOOLS}/legacy/status", headers=operator).json
    assert status["status"] == "STOPPED" and status["pid"] is None and status["owner_worker"] is None
    assert status["desired_state"] == "stopped"
    wait_for(lambda: process_gone(pid), timeout=5)
    again = client.post(f"{TOOLS}/legacy/stop?wait=true", headers=operator)
    assert again.status_code == 200 and again.json["status"] == "succeeded"  # idempotent


def test_given_a_viewer_when_starting_then_403(client, admin, viewer):
    create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    assert client.post(f"{TOOLS}/legacy/start", headers=viewer).status_code == 403


def test_given_a_running_tool_when_status_is_read_then_live_process_fields(client, viewer, legacy_tool, worker):
    def live():
        body = client.get(f"{TOOLS}/legacy/status", headers=viewer).json
        return body if body.get("uptime_s") is not None else None

    status = wait_for(live, timeout=5)  # live stats are published on the worker's heartbeat

    assert status["status"] == "RUNNING" and status["desired_state"] == "running"
    assert status["pid"] == Tool.get_by_id(legacy_tool["id"]).pid and psutil.pid_exists(status["pid"])
    assert status["owner_worker"] in worker.worker_ids()
    assert status["memory_mb"] > 0 and status["uptime_s"] >= 0 and status["processes"] >= 1
    assert status["protocol_version"] == "2025-11-25"


def test_given_a_started_server_when_logs_are_read_then_its_stderr_and_who_started_it(client, viewer, echo_tool):
    def stderr_lines():
        body = client.get(f"{TOOLS}/echo/logs?source=stderr", headers=viewer).json
        return [e["message"] for e in body["items"]]

    assert "echo-server starting" in wait_for(stderr_lines, timeout=5)  # the pipe is read by a thread
    everything = client.get(f"{TOOLS}/echo/logs?page_size=100", headers=viewer).json
    requested = [e for e in everything["items"] if e["source"] == "api"]
    assert [e["message"] for e in requested] == ["start requested by admin-user"] and requested[0]["task_id"]
    assert everything["total"] == len(everything["items"]) >= 2

    tail = client.get(f"{TOOLS}/echo/logs?tail=1", headers=viewer).json
    assert len(tail["items"]) == 1 and tail["items"][0]["id"] == everything["items"][-1]["id"]
    assert client.get(f"{TOOLS}/echo/logs?tail=0", headers=viewer).status_code == 422


def test_given_a_tool_that_fails_then_lifecycle_entries_in_its_logs(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("crash", "crashing_server.py", max_restart_attempts=0))
    client.post(f"{TOOLS}/crash/start?wait=true", headers=admin)

    logs = client.get(f"{TOOLS}/{tool['id']}/logs?source=lifecycle", headers=admin).json["items"]

    assert logs and logs[0]["level"] == "ERROR" and "frobnicator" in logs[0]["message"]


def test_given_running_tools_when_available_and_capabilities_read_then_their_mcp_tools(client, viewer, legacy_tool):
    available = client.get(f"{TOOLS}/available", headers=viewer).json["items"]
    capabilities = client.get(f"{TOOLS}/legacy/capabilities", headers=viewer).json

    assert [(t["name"], [m["name"] for m in t["tools"]]) for t in available] == [("legacy", ["echo"])]
    assert capabilities["server_info"]["name"] == "legacy-server"
    assert capabilities["protocol_version"] == "2025-11-25"
    assert [t["name"] for t in capabilities["tools"]] == ["echo"]
    assert "tools" in capabilities["capabilities"]


def test_given_a_crashing_server_when_started_then_error_with_its_stderr(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("crash", "crashing_server.py", max_restart_attempts=1))

    response = client.post(f"{TOOLS}/crash/start?wait=true", headers=admin)

    assert response.status_code == 502, response.json
    assert response.json["errors"]["error_type"] == "start_failed"
    task = client.get(f"/api/v1/tasks/{response.json['errors']['task_id']}", headers=admin).json
    assert task["status"] == "failed" and task["error_type"] == "start_failed"
    status = client.get(f"{TOOLS}/{tool['id']}/status", headers=admin).json
    assert status["status"] == "ERROR" and status["restart_count"] == 1
    assert "cannot open the frobnicator" in status["last_error"]
    assert "cannot open the frobnicator" in client.get(f"{TOOLS}/crash", headers=admin).json["last_error"]


# -- import / export ---------------------------------------------------------------------------

DOCUMENT = {"mcpServers": {
    "Legacy Server": {"command": sys.executable, "args": [str(SERVERS / "legacy_server.py")],
                      "env": {"TOKEN": "s3cret"}},
    "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer s3cret"}},
    "events": {"url": "https://mcp.example.com/sse"},
}}


def test_given_an_mcpservers_document_when_imported_then_tools_are_created(client, admin):
    response = client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)

    assert response.status_code == 200, response.json
    assert sorted(response.json["created"]) == ["events", "legacy-server", "remote"]
    tools = {t.name: t for t in Tool.select()}
    assert tools["legacy-server"].transport == "stdio" and tools["legacy-server"].display_name == "Legacy Server"
    assert tools["legacy-server"].env == {"TOKEN": "s3cret"}
    assert tools["remote"].transport == "streamable_http" and tools["events"].transport == "sse"


def test_given_existing_tools_when_imported_again_then_skipped_or_replaced(client, admin):
    client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)
    changed = {"mcpServers": {"remote": {"url": "https://other.example.com/mcp"}}}

    skipped = client.post(f"{TOOLS}/import", headers=admin, json=changed).json
    assert skipped == {"created": [], "updated": [], "skipped": ["remote"]}
    assert Tool.get(Tool.name == "remote").url == "https://mcp.example.com/mcp"

    replaced = client.post(f"{TOOLS}/import?replace=true", headers=admin, json=changed).json
    assert replaced == {"created": [], "updated": ["remote"], "skipped": []}
    remote = Tool.get(Tool.name == "remote")
    assert remote.url == "https://other.example.com/mcp" and remote.headers is None


def test_given_a_stdio_tool_when_replaced_by_an_http_entry_then_no_stale_command(client, admin):
    client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)

    response = client.post(f"{TOOLS}/import?replace=true", headers=admin,
                           json={"mcpServers": {"legacy-server": {"url": "https://h/mcp"}}})

    assert response.status_code == 200, response.json
    tool = Tool.get(Tool.name == "legacy-server")
    assert (tool.transport, tool.url, tool.command, tool.args, tool.env) == (
        "streamable_http", "https://h/mcp", None, [], None)


def test_given_a_bad_document_when_imported_then_422_with_per_server_errors_and_nothing_created(client, admin):
    document = {"mcpServers": {
        "good": {"command": "python"},
        "no-command": {"command": ""},
        "bad-url": {"url": "ftp://h/mcp"},
        "odd": {"command": "python", "colour": "red"},
        "kind": {"type": "carrier-pigeon", "url": "https://h"},
    }}

    response = client.post(f"{TOOLS}/import", headers=admin, json=document)

    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    assert set(errors) == {"no-command", "bad-url", "odd", "kind"}
    assert "command" in str(errors["no-command"]) and "url" in str(errors["bad-url"])
    assert "colour" in str(errors["odd"]) and "carrier-pigeon" in str(errors["kind"])
    assert Tool.select().count() == 0


def test_given_a_document_without_mcpservers_when_imported_then_422(client, admin):
    response = client.post(f"{TOOLS}/import", headers=admin, json={"servers": {}})

    assert response.status_code == 422


def test_given_tools_when_exported_then_secrets_masked_unless_asked(client, admin):
    client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)

    masked = client.get(f"{TOOLS}/export", headers=admin).json["mcpServers"]
    clear = client.get(f"{TOOLS}/export?include_secrets=true", headers=admin).json["mcpServers"]

    assert "s3cret" not in str(masked)
    assert masked["legacy-server"]["env"] == {"TOKEN": "********"}
    assert masked["remote"] == {"type": "http", "url": "https://mcp.example.com/mcp",
                                "headers": {"Authorization": "********"}}
    assert clear["legacy-server"]["env"] == {"TOKEN": "s3cret"}
    assert clear["remote"]["headers"] == {"Authorization": "Bearer s3cret"}
    assert clear["events"]["type"] == "sse"


def test_given_an_export_when_imported_elsewhere_then_the_same_tools(client, admin):
    client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)
    client.put(f"{TOOLS}/legacy-server", headers=admin, json={
        "description": "the legacy one", "auto_start": True, "call_timeout_s": 5, "cwd": "/tmp"})
    exported = client.get(f"{TOOLS}/export?include_secrets=true", headers=admin).json
    Tool.delete().execute()

    response = client.post(f"{TOOLS}/import", headers=admin, json=exported)

    assert sorted(response.json["created"]) == ["events", "legacy-server", "remote"]
    assert Tool.get(Tool.name == "remote").headers == {"Authorization": "Bearer s3cret"}
    legacy = Tool.get(Tool.name == "legacy-server")
    assert (legacy.description, legacy.auto_start, legacy.call_timeout_s, legacy.cwd) == (
        "the legacy one", True, 5, "/tmp")
    assert legacy.env == {"TOKEN": "s3cret"} and legacy.args == [str(SERVERS / "legacy_server.py")]


def test_given_a_masked_export_when_reimported_with_replace_then_secrets_are_kept(client, admin):
    client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)
    masked = client.get(f"{TOOLS}/export", headers=admin).json

    client.post(f"{TOOLS}/import?replace=true", headers=admin, json=masked)

    assert Tool.get(Tool.name == "legacy-server").env == {"TOKEN": "s3cret"}
    assert Tool.get(Tool.name == "remote").headers == {"Authorization": "Bearer s3cret"}


def test_given_an_api_key_scoped_to_one_tool_when_exporting_then_only_that_tool(client, admin):
    client.post(f"{TOOLS}/import", headers=admin, json=DOCUMENT)
    key = client.post("/api/v1/auth/api-keys", headers=admin, json={"name": "ci", "tool_scope": ["remote"]}).json

    exported = client.get(f"{TOOLS}/export?include_secrets=true", headers={"X-API-Key": key["key"]}).json

    assert list(exported["mcpServers"]) == ["remote"]


def test_given_a_viewer_when_importing_or_exporting_then_403(client, viewer):
    assert client.post(f"{TOOLS}/import", headers=viewer, json=DOCUMENT).status_code == 403
    assert client.get(f"{TOOLS}/export", headers=viewer).status_code == 403


def test_given_a_tool_just_started_when_status_is_read_at_once_then_running_with_its_pid(client, admin, worker):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    started = client.post(f"{TOOLS}/{tool['id']}/start?wait=true", headers=admin).json
    status = client.get(f"{TOOLS}/{tool['id']}/status", headers=admin).json

    assert status["status"] == "RUNNING" and status["pid"] == started["result"]["pid"]


def test_given_a_stdio_tool_without_cwd_when_started_then_it_runs_in_a_private_dir_of_its_own(
        client, admin, worker, settings):
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))

    pid = start_tool(client, admin, tool["id"])["result"]["pid"]

    tool_dir = psutil.Process(pid).cwd()
    assert tool_dir == str(Path(settings.app.data_dir) / "tools" / str(tool["id"]))
    assert stat.S_IMODE(os.stat(tool_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(settings.app.data_dir).st_mode) == 0o700


def test_given_a_server_writing_garbage_to_stdout_then_few_log_lines_and_its_pid_is_shown_while_starting(
        make_settings, start_worker_for):
    # Given a tool whose server floods stdout with garbage and never answers initialize
    settings = make_settings(**{"mcp.tools.start_timeout_s": 3})
    app = create_app(settings)
    client = app.test_client()
    from api.users.accounts import create_user
    with app.app_context():
        create_user("root", "correct-horse-battery", role="admin")
    admin = {"Authorization": "Bearer " + client.post("/api/v1/auth/login", json={
        "username": "root", "password": "correct-horse-battery"}).json["access_token"]}
    start_worker_for(settings)
    tool = create_tool(client, admin, **stdio_body("garbage", "garbage_server.py", restart_on_failure=False))

    # When it is started
    client.post(f"{TOOLS}/{tool['id']}/start", headers=admin)

    # Then while it starts its status shows the process's pid
    status = wait_for(lambda: (s := client.get(f"{TOOLS}/{tool['id']}/status", headers=admin).json)["pid"] and s,
                      timeout=20)
    assert status["status"] == "STARTING" and psutil.pid_exists(status["pid"])
    # and its log keeps a bounded number of one-line transport errors while the garbage keeps coming
    def transport_rows():
        with app.app_context():
            return list(LogEntry.select().where((LogEntry.tool_id == tool["id"]) & (LogEntry.source == "transport")))
    wait_for(lambda: len(transport_rows()) >= 21, timeout=20)
    time.sleep(2)
    rows = transport_rows()
    assert len(rows) == 21 and all("\n" not in row.message for row in rows)
    assert rows[-1].message == "more transport errors on this connection are not logged"
