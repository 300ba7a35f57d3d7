"""Virtual servers end to end: defined through the REST API (admin), served by a real proxy process at
/mcp/servers/<name> to SDK clients of both eras, changed and deleted without restarting the proxy."""
from __future__ import annotations

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from tests.api.e2e import create_tool, start_tool, stdio_body
from tests.api.proxies import connect

pytestmark = pytest.mark.anyio
SERVERS = "/api/v1/proxy/servers"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def writing(client, admin, echo_tool):
    """A virtual server of the echo tool: `echo` shown as `say` with its own description, `fail` and `hang`
    hidden."""
    response = client.post(SERVERS, headers=admin, json={
        "name": "writing", "description": "for writers", "tools": [{
            "tool": "echo", "hidden": ["fail", "hang"], "renames": {"echo": "say"},
            "descriptions": {"echo": "Say the text back, word for word."}}]})
    assert response.status_code == 201, response.json
    return response.json


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_given_a_virtual_server_when_a_client_lists_and_calls_then_it_sees_the_renames_and_not_the_hidden(
        start_proxy, api_key, writing, mode):
    proxy = start_proxy()
    async with connect(f"{proxy.base}/mcp/servers/writing", api_key(), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        said = await client.call_tool("say", {"text": "renamed"})
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("fail", {})
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("echo", {"text": "by its own name"})

    assert "say" in tools and "add" in tools and "slow" in tools
    assert not {"echo", "fail", "hang"} & set(tools)
    assert tools["say"].description == "Say the text back, word for word."
    assert said.content[0].text == "renamed"


async def test_given_two_tools_in_a_virtual_server_when_names_collide_then_the_naming_policy_prefixes_them(
        start_proxy, api_key, client, admin, echo_tool):
    second = create_tool(client, admin, **stdio_body("echo2", "echo_server.py"))
    start_tool(client, admin, second["id"])
    response = client.put(f"{SERVERS}/pair", headers=admin, json={"name": "pair", "tools": [
        {"tool": echo_tool["id"], "include": ["echo", "add"]},
        {"tool": "echo2", "include": ["echo", "add"], "renames": {"add": "plus"}}]})
    assert response.status_code == 200, response.json
    proxy = start_proxy()

    async with connect(f"{proxy.base}/mcp/servers/pair", api_key(), "legacy") as mcp:
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        via_second = await mcp.call_tool("echo2__echo", {"text": "two"})
        plus = await mcp.call_tool("plus", {"a": 1, "b": 2})

    assert names == {"echo__echo", "echo2__echo", "add", "plus"}
    assert via_second.content[0].text == "two"
    assert plus.structured_content == {"total": 3}


async def test_given_a_key_scoped_to_another_tool_when_it_opens_a_virtual_server_then_it_sees_nothing(
        start_proxy, api_key, writing, client, admin):
    other = create_tool(client, admin, **stdio_body("other", "legacy_server.py"))
    proxy = start_proxy()

    async with connect(f"{proxy.base}/mcp/servers/writing", api_key(tool_scope=[other["id"]]), "legacy") as mcp:
        tools = (await mcp.list_tools()).tools

    assert tools == []


async def test_given_a_running_proxy_when_a_virtual_server_is_changed_then_deleted_then_clients_see_it_live(
        start_proxy, api_key, writing, client, admin):
    proxy = start_proxy()
    key = api_key()
    async with connect(f"{proxy.base}/mcp/servers/writing", key, "legacy") as mcp:
        changed = client.put(f"{SERVERS}/writing", headers=admin, json={
            "name": "writing", "tools": [{"tool": "echo", "include": ["echo"], "renames": {"echo": "repeat"}}]})
        after_change = {tool.name for tool in (await mcp.list_tools()).tools}

    deleted = client.delete(f"{SERVERS}/writing", headers=admin)
    with pytest.raises(Exception):
        async with connect(f"{proxy.base}/mcp/servers/writing", key, "legacy") as mcp:
            await mcp.list_tools()

    assert changed.status_code == 200 and changed.json["tools"][0]["renames"] == {"echo": "repeat"}
    assert after_change == {"repeat"}
    assert deleted.status_code == 204
    assert client.get(f"{SERVERS}/writing", headers=admin).status_code == 404


def test_given_the_rest_api_when_managing_virtual_servers_then_tools_are_stored_by_id_and_shown_by_name(
        client, admin, writing, echo_tool):
    listed = client.get(SERVERS, headers=admin).json
    duplicate = client.post(SERVERS, headers=admin, json={"name": "writing", "tools": [{"tool": "echo"}]})
    mismatched = client.put(f"{SERVERS}/other", headers=admin, json={"name": "writing", "tools": [{"tool": "echo"}]})
    renamed = client.put(f"/api/v1/tools/{echo_tool['id']}", headers=admin, json={"name": "echo-renamed"})
    config = client.get("/api/v1/proxy/config", headers=admin).json

    assert [server["name"] for server in listed] == ["writing"]
    assert listed[0]["path"] == "/mcp/servers/writing"
    assert listed[0]["tools"][0]["tool_id"] == echo_tool["id"]
    assert duplicate.status_code == 409 and duplicate.json["code"] == 409
    assert mismatched.status_code == 422
    assert renamed.status_code == 200
    assert config["virtual_servers"][0]["tools"][0]["tool"] == "echo-renamed"  # the same tool, by id


def test_given_a_tool_in_a_virtual_server_when_the_tool_is_deleted_then_the_server_forgets_it(
        client, admin, writing, echo_tool):
    assert client.delete(f"/api/v1/tools/{echo_tool['id']}", headers=admin).status_code == 204

    assert client.get(f"{SERVERS}/writing", headers=admin).json["tools"] == []


def test_given_an_unknown_virtual_server_when_requested_then_404(start_proxy, api_key, database):
    proxy = start_proxy()

    response = httpx2.post(f"{proxy.base}/mcp/servers/nope", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                           headers={"X-API-Key": api_key()}, timeout=5)

    assert response.status_code == 404
