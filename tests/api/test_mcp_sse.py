"""The legacy HTTP+SSE transport (/sse + /messages) end to end: real proxy processes, a real worker and
MCP server, the official SDK's SSE client (`mcp.client.sse`)."""
from __future__ import annotations

import itertools
import json

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from tests.api.proxies import connect_sse
from tests.harness import wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_given_an_sdk_sse_client_when_it_lists_and_calls_then_answers_and_progress_come_down_its_stream(
        start_proxy, api_key, echo_tool):
    proxy = start_proxy()
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total))

    async with connect_sse(f"{proxy.base}/sse", api_key()) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        echoed = await client.call_tool("echo", {"text": "over sse"})
        slow = await client.call_tool("slow", {"steps": 3, "delay": 0.05}, progress_callback=on_progress)
        resource = await client.read_resource("memo://greeting")
        prompt = await client.get_prompt("review", {"code": "x = 1"})
        assert client.protocol_version == "2025-11-25"

    assert {"echo", "add", "slow"} <= names
    assert echoed.content[0].text == "over sse"
    assert slow.content[0].text == "done after 3 steps"
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert resource.contents[0].text == "hello from a resource"
    assert "x = 1" in prompt.messages[0].content.text


class AlternatingPosts(httpx2.AsyncHTTPTransport):
    """Sends each POST to the next of `ports` (the GET stays where it was opened): as a load balancer
    spreading one client's messages over proxy processes would."""

    def __init__(self, ports: list[int]):
        super().__init__()
        self.ports = itertools.cycle(ports)
        self.posted_to: list[int] = []

    async def handle_async_request(self, request):
        if request.method == "POST":
            port = next(self.ports)
            self.posted_to.append(port)
            request.url = request.url.copy_with(port=port)
        return await super().handle_async_request(request)


async def test_given_two_proxy_processes_when_posts_land_on_the_one_not_holding_the_stream_then_answers_arrive(
        start_proxy, api_key, echo_tool):
    # Given the stream opened on proxy A, and the client's POSTs alternating between B and A
    a, b = start_proxy(), start_proxy()
    transport = AlternatingPosts([b.port, a.port])

    def factory(headers=None, timeout=None, auth=None):
        return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth, transport=transport)

    # When it initializes, lists and calls a few times
    async with Client(sse_client(f"{a.base}/sse", headers={"X-API-Key": api_key()}, httpx_client_factory=factory),
                      mode="legacy") as client:
        texts = [(await client.call_tool("echo", {"text": f"call {n}"})).content[0].text for n in range(4)]
        listed = await client.list_tools()

    # Then every answer reached the stream on A, whichever process served it
    assert texts == [f"call {n}" for n in range(4)]
    assert "echo" in {tool.name for tool in listed.tools}
    assert b.port in transport.posted_to and a.port in transport.posted_to


def test_given_no_credentials_when_opening_an_sse_stream_then_401(start_proxy):
    proxy = start_proxy()

    response = httpx2.get(f"{proxy.base}/sse", timeout=5)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="mcps"')


async def test_given_someone_elses_stream_when_posting_to_it_then_404_and_nothing_is_served(
        start_proxy, api_key, echo_tool):
    proxy = start_proxy()
    owner, intruder = api_key(), api_key("admin")
    async with httpx2.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{proxy.base}/sse", headers={"X-API-Key": owner}) as stream:
            lines = stream.aiter_lines()
            endpoint = next_data = None
            async for line in lines:
                if line.startswith("data:"):
                    endpoint = line[5:].strip()
                    break
            initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}

            stolen = await http.post(f"{proxy.base}{endpoint}", json=initialize, headers={"X-API-Key": intruder})
            unknown = await http.post(f"{proxy.base}/messages?session_id=nope", json=initialize,
                                      headers={"X-API-Key": owner})
            own = await http.post(f"{proxy.base}{endpoint}", json=initialize, headers={"X-API-Key": owner})
            async for line in lines:
                if line.startswith("data:"):
                    next_data = json.loads(line[5:])
                    break

    assert endpoint.startswith("/messages?session_id=")
    assert stolen.status_code == 404 and unknown.status_code == 404
    assert own.status_code == 202
    assert next_data["id"] == 1 and next_data["result"]["serverInfo"]["name"] == "mcps"


async def test_given_an_sse_client_when_it_leaves_then_its_stream_and_session_are_gone(
        start_proxy, api_key, echo_tool, client, viewer):
    proxy = start_proxy()
    async with connect_sse(f"{proxy.base}/sse", api_key()) as mcp_client:
        await mcp_client.list_tools()
        during = wait_for(lambda: (lambda s: s if s["sessions"]["legacy_sse"] == 1 else None)(
            client.get("/api/v1/proxy/status", headers=viewer).json))

    after = wait_for(lambda: (lambda s: s if s["sessions"] == {"handshake": 0, "legacy_sse": 0} else None)(
        client.get("/api/v1/proxy/status", headers=viewer).json))
    assert during["sessions"]["handshake"] == 1
    assert after["processes"] == 1
