"""The front door's management API (/api/v1/proxy and the seed's /api/v1/mcp/proxy) against real proxy
processes: status from their heartbeats, stop (no new sessions, drain) and start, live config."""
from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY

from tests.api.proxies import connect
from tests.harness import wait_for

pytestmark = pytest.mark.anyio
STATUS, CONFIG = "/api/v1/proxy/status", "/api/v1/proxy/config"
LEGACY = "2025-11-25"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def status_when(client, headers, predicate, path=STATUS) -> dict:
    return wait_for(lambda: (lambda s: s if predicate(s) else None)(client.get(path, headers=headers).json))


def initialize(url: str, key: str) -> httpx2.Response:
    return httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}, timeout=10)


def modern_ping(url: str, key: str) -> httpx2.Response:
    meta = {PROTOCOL_VERSION_META_KEY: "2026-07-28", CLIENT_CAPABILITIES_META_KEY: {}}
    return httpx2.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"_meta": meta}},
        headers={"Authorization": f"Bearer {key}", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "ping",
                 "Accept": "application/json, text/event-stream"}, timeout=10)


async def test_given_two_proxy_processes_serving_calls_when_status_is_read_then_both_paths_report_them(
        start_proxy, api_key, echo_tool, client, viewer):
    # Given two proxy processes, a 2026-era client and a handshake-era client calling through them
    first, second = start_proxy(), start_proxy()
    key = api_key()
    async with connect(first.url, key, "auto") as modern, connect(second.url, key, "legacy") as legacy:
        for n in range(3):
            await modern.call_tool("echo", {"text": str(n)})
            await legacy.call_tool("echo", {"text": str(n)})
        await legacy.call_tool("fail", {})  # a tool error is a result, not a protocol error
        with pytest.raises(Exception):
            await modern.call_tool("no-such-tool", {})

        # When the status is read (the heartbeats run every second)
        status = status_when(client, viewer, lambda s: s["calls_per_min"] >= 8 and s["processes"] == 2)
        seed_path = client.get("/api/v1/mcp/proxy/status", headers=viewer).json

    # Then it counts the processes, the open handshake session, calls by era, errors and a latency
    assert status["serving"] and status["accepting_new_sessions"] and not status["draining"]
    assert status["sessions"]["handshake"] == 1
    assert status["requests_per_min"]["2026-07-28"] >= 4 and status["requests_per_min"]["handshake"] >= 4
    assert status["errors_per_min"] >= 1
    assert status["p50_ms"] > 0
    assert {p["listen"] for p in status["per_process"]} == {f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"}
    assert seed_path["processes"] == 2 and seed_path["sessions"] == status["sessions"]


async def test_given_a_stopped_front_door_then_new_sessions_are_refused_while_open_ones_finish_and_tools_run(
        start_proxy, api_key, echo_tool, client, admin, viewer):
    proxy = start_proxy()
    key = api_key()
    status_when(client, viewer, lambda s: s["processes"] == 1)
    async with connect(proxy.url, key, "legacy") as open_session:
        await open_session.list_tools()
        # Given a slow call in flight when the front door is stopped
        in_flight = asyncio.ensure_future(open_session.call_tool("slow", {"steps": 10, "delay": 0.1}))
        await asyncio.sleep(0.3)

        stopped = client.post("/api/v1/mcp/proxy/stop", headers=admin)

        # Then no new session of either era, nor an SSE stream, is accepted; the open one keeps working
        refused_handshake = initialize(proxy.url, key)
        refused_modern = modern_ping(proxy.url, key)
        refused_sse = httpx2.get(f"{proxy.base}/sse", headers={"X-API-Key": key}, timeout=5)
        draining = client.get(STATUS, headers=viewer).json
        finished = await in_flight
        still_served = await open_session.call_tool("echo", {"text": "still here"})
    assert stopped.status_code == 200 and stopped.json["accepting_new_sessions"] is False
    assert refused_handshake.status_code == refused_modern.status_code == refused_sse.status_code == 503
    assert refused_handshake.json()["error"]["message"].startswith("the MCP front door is stopped")
    assert refused_modern.json()["id"] == 2 and refused_handshake.headers["retry-after"] == "5"
    assert draining["draining"] is True and draining["in_flight"] >= 1
    assert finished.content[0].text == "done after 10 steps"
    assert still_served.content[0].text == "still here"
    assert client.get(f"/api/v1/tools/{echo_tool['id']}/status", headers=viewer).json["status"] == "RUNNING"

    # When it is started again, new sessions open
    started = client.post("/api/v1/proxy/start", headers=admin)
    assert started.status_code == 200 and started.json["accepting_new_sessions"] and started.json["serving"]
    assert initialize(proxy.url, key).status_code == 200
    assert modern_ping(proxy.url, key).status_code == 200


async def test_given_a_connected_client_when_the_naming_policy_changes_then_it_applies_without_restart(
        start_proxy, api_key, echo_tool, client, admin):
    proxy = start_proxy()
    async with connect(proxy.url, api_key(), "legacy") as mcp:
        before = {tool.name for tool in (await mcp.list_tools()).tools}

        changed = client.put(CONFIG, headers=admin, json={"naming": "always"})
        after = {tool.name for tool in (await mcp.list_tools()).tools}
        called = await mcp.call_tool("echo__echo", {"text": "prefixed"})

    assert "echo" in before and "echo__echo" not in before
    assert changed.status_code == 200, changed.json
    assert changed.json["naming"] == "always" and changed.json["pending_processes"] == []
    assert "echo__echo" in after and "echo" not in after
    assert called.content[0].text == "prefixed"
    assert client.get(CONFIG, headers=admin).json["naming"] == "always"


@pytest.mark.parametrize("body, field", [
    ({"naming": "sometimes"}, "naming"),
    ({"nmaing": "always"}, "nmaing"),
    ({"virtual_servers": [{"name": "Not A Slug", "tools": [{"tool": "echo"}]}]}, "virtual_servers"),
    ({"virtual_servers": [{"name": "v", "tools": []}]}, "virtual_servers"),
    ({"virtual_servers": [{"name": "v", "tools": [{"tool": "echo", "renames": {"a": "x y"}}]}]}, "virtual_servers"),
    ({"virtual_servers": [{"name": "v", "tools": [{"tool": "echo", "renames": {"a": "x", "b": "x"}}]}]},
     "virtual_servers"),
    ({"virtual_servers": [{"name": "v", "tools": [{"tool": True}]}]}, "virtual_servers"),
    ({"virtual_servers": [{"name": "v", "tools": [{"tool": "echo"}]}, {"name": "v", "tools": [{"tool": "echo"}]}]},
     "virtual_servers"),
], ids=["naming", "unknown field", "server name", "no tools", "rename", "two renames to one name", "tool ref",
        "two servers one name"])
def test_given_a_bad_config_when_put_then_422_in_the_one_error_shape_and_nothing_changes(
        client, admin, body, field):
    response = client.put(CONFIG, headers=admin, json=body)

    assert response.status_code == 422, response.json
    assert response.json["code"] == 422 and field in json.dumps(response.json["errors"])
    assert client.get(CONFIG, headers=admin).json == {"naming": "on_conflict", "virtual_servers": []}


def test_given_an_unknown_tool_in_a_virtual_server_when_put_then_422_naming_it(client, admin):
    response = client.put(CONFIG, headers=admin, json={"virtual_servers": [{"name": "v", "tools": [{"tool": "ghost"}]}]})

    assert response.status_code == 422 and "ghost" in response.json["message"]


def test_given_no_proxy_process_when_status_is_read_then_not_serving_but_an_answer(client, viewer):
    status = client.get(STATUS, headers=viewer)

    assert status.status_code == 200
    assert status.json["processes"] == 0 and status.json["serving"] is False
    assert status.json["accepting_new_sessions"] is True and status.json["p50_ms"] is None


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_given_each_database_when_the_config_is_written_twice_then_the_last_write_is_read_back(
        request, app, engine):
    # Given the REST API on SQLite or on PostgreSQL, an admin and a tool
    from api.users.accounts import create_user
    from models import Tool
    from tests.api.conftest import LOGIN, PASSWORD, bearer

    app = request.getfixturevalue("postgres_app") if engine == "postgres" else app
    client = app.test_client()
    with app.app_context():
        create_user("root", PASSWORD, role="admin")
        tool = Tool.create(name="time", transport="stdio", command="uvx")
    admin = bearer(client.post(LOGIN, json={"username": "root", "password": PASSWORD}).json["access_token"])
    server = {"name": "clock", "tools": [{"tool": "time", "renames": {"get_current_time": "now"}}]}

    # When the naming policy is stored, then changed (an update of the same row), with a virtual server
    first = client.put(CONFIG, headers=admin, json={"naming": "always", "virtual_servers": [server]})
    second = client.put(CONFIG, headers=admin, json={"naming": "on_conflict"})

    # Then the second naming is read back and the virtual server kept, its tool by id
    assert first.status_code == second.status_code == 200, (first.json, second.json)
    read = client.get(CONFIG, headers=admin).json
    assert read["naming"] == "on_conflict"
    assert read["virtual_servers"][0]["tools"][0]["tool_id"] == tool.id
    assert second.json["generation"] == first.json["generation"] + 1
