"""Everything MCP passed through the front door (issue 15, item 3): completion, logging levels and log
messages, resource subscriptions, prompt list changes, pagination and call history.

Real proxy processes, a real worker and real MCP servers (tests/servers/features_server.py: SDK MCPServer
served to the worker as 2026-07-28; leveled_server.py: a handshake-era server with one log level per
connection; @modelcontextprotocol/server-everything: a handshake-era server with resource subscriptions),
and the SDK's `Client` in both modes (`auto` → 2026-07-28, `legacy` → the initialize handshake).
"""
from __future__ import annotations

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged
from mcp_types import PromptReference, ResourceTemplateReference

from api import create_app
from api.mcp_proxy.history import session_name
from models import ApiKey, Message, Session
from tests.api.proxies import EVERYTHING, LEGACY, MODERN, connect
from tests.harness import wait_for

pytestmark = pytest.mark.anyio
BOTH_ERAS = pytest.mark.parametrize("mode, version", [("auto", MODERN), ("legacy", LEGACY)])


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def operator_key(make_api_key):
    return make_api_key("operator")[1]


def updates_of(uri: str):
    """A message handler that keeps the `notifications/resources/updated` of `uri`, and what it kept."""
    seen = []

    async def handler(message):
        params = getattr(message, "params", None)
        if getattr(message, "method", None) == "notifications/resources/updated" and str(params.uri) == uri:
            seen.append(message)
    return handler, seen


async def until(predicate, timeout: float = 10.0, every=None):
    """Wait for `predicate()`; `every` (async) runs between looks (e.g. one more update on the server)."""
    with anyio.fail_after(timeout):
        while not predicate():
            if every is not None:
                await every()
            await anyio.sleep(0.1)


# -- completion/complete -----------------------------------------------------------------------------

@BOTH_ERAS
async def test_given_two_servers_sharing_names_when_completing_then_the_renamed_refs_reach_their_server(
        start_proxy, operator_key, serve_tool, mode, version):
    serve_tool("feat", "features_server.py")
    serve_tool("feat2", "features_server.py")
    proxy = start_proxy()

    async with connect(proxy.url, operator_key, mode) as client:
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        colours = await client.complete(PromptReference(type="ref/prompt", name="feat2__paint"),
                                        {"name": "colour", "value": "bl"})
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        topics = await client.complete(ResourceTemplateReference(type="ref/resource", uri="mcps://feat/board://{topic}"),
                                       {"name": "topic", "value": "n"})
        with pytest.raises(MCPError) as unknown:
            await client.complete(PromptReference(type="ref/prompt", name="paint"), {"name": "colour", "value": ""})

        assert client.protocol_version == version
    assert {"feat__paint", "feat2__paint"} <= prompts and "paint" not in prompts
    assert colours.completion.values == ["blue", "black"]
    assert "mcps://feat/board://{topic}" in templates
    assert topics.completion.values == ["news", "notes", "numbers"]
    assert unknown.value.code == -32602


def test_given_a_running_server_when_completing_over_rest_then_its_values_and_viewers_are_refused(
        client, admin, operator, viewer, worker):
    from tests.api.e2e import create_tool, start_tool, stdio_body

    tool = create_tool(client, admin, **stdio_body("feat", "features_server.py"))
    start_tool(client, admin, tool["id"])
    body = {"ref": {"type": "ref/prompt", "name": "paint"}, "argument": {"name": "colour", "value": "b"}}

    answered = client.post("/api/v1/tools/feat/complete", headers=operator, json=body)
    refused = client.post("/api/v1/tools/feat/complete", headers=viewer, json=body)
    malformed = client.post("/api/v1/tools/feat/complete", headers=operator,
                            json={"ref": {"type": "ref/prompt"}, "argument": {"name": "colour"}})

    assert answered.status_code == 200, answered.json
    assert answered.json["completion"]["values"] == ["blue", "black"] and answered.json["task_id"]
    assert refused.status_code == 403
    assert malformed.status_code == 422


# -- logging -----------------------------------------------------------------------------------------

async def test_given_a_handshake_backend_at_info_when_a_legacy_client_wants_debug_then_it_hears_debug(
        start_proxy, make_api_key, serve_tool):
    serve_tool("leveled", "leveled_server.py")
    proxy = start_proxy()
    verbose, terse = [], []

    async def keep(into):
        async def on_log(params):
            into.append((params.level, params.data))
        return on_log

    async with connect(proxy.url, make_api_key()[1], "legacy", logging_callback=await keep(verbose)) as chatty:
        await chatty.set_logging_level("debug")
        await chatty.call_tool("speak", {"text": "one"})
    async with connect(proxy.url, make_api_key()[1], "legacy", logging_callback=await keep(terse)) as quiet:
        await quiet.set_logging_level("error")
        await quiet.call_tool("speak", {"text": "two"})

    assert verbose == [("debug", "debug one"), ("info", "info one"), ("warning", "warning one"), ("error", "error one")]
    assert terse == [("error", "error two")]


@BOTH_ERAS
async def test_given_a_2026_backend_when_a_client_asks_for_debug_then_its_call_brings_every_level(
        start_proxy, operator_key, serve_tool, mode, version):
    serve_tool("feat", "features_server.py")
    proxy = start_proxy()
    heard = []

    async def on_log(params):
        heard.append((params.level, params.data))

    async with connect(proxy.url, operator_key, mode, logging_callback=on_log, log_level="debug") as client:
        if mode == "legacy":
            await client.set_logging_level("debug")
        await client.call_tool("whisper", {"text": "psst"})

    assert heard == [("debug", "debug psst"), ("info", "info psst"), ("error", "error psst")]


# -- resource subscriptions --------------------------------------------------------------------------

async def test_given_a_legacy_session_subscribed_when_the_2026_backend_updates_then_the_get_stream_tells(
        start_proxy, operator_key, serve_tool):
    serve_tool("feat", "features_server.py")
    proxy = start_proxy()
    handler, updates = updates_of("counter://value")

    async with connect(proxy.url, operator_key, "legacy", message_handler=handler) as client:
        await client.subscribe_resource("counter://value")
        await until(lambda: updates, every=lambda: client.call_tool("bump", {}))
        await client.unsubscribe_resource("counter://value")
        await anyio.sleep(0.3)
        told = len(updates)
        await client.call_tool("bump", {})
        await anyio.sleep(0.5)

    assert len(updates) == told


async def test_given_a_subscribed_legacy_session_when_the_tool_is_restarted_then_updates_still_arrive(
        start_proxy, operator_key, serve_tool, run_job):
    feat = serve_tool("feat", "features_server.py")
    proxy = start_proxy()
    handler, updates = updates_of("counter://value")

    async with connect(proxy.url, operator_key, "legacy", message_handler=handler) as client:
        await client.subscribe_resource("counter://value")
        event = await anyio.to_thread.run_sync(lambda: run_job("restart", feat.id))
        assert event["status"] == "succeeded", event
        await until(lambda: updates, every=lambda: client.call_tool("bump", {}))

    assert str(updates[0].params.uri) == "counter://value"


async def test_given_a_2026_listen_stream_with_a_resource_when_the_backend_updates_then_it_is_told(
        start_proxy, operator_key, serve_tool):
    serve_tool("feat", "features_server.py")
    proxy = start_proxy()

    async with connect(proxy.url, operator_key, "auto") as client:
        async with client.listen(resource_subscriptions=["counter://value"]) as subscription:
            await client.call_tool("bump", {})
            with anyio.fail_after(10):
                event = await subscription.__anext__()

    assert subscription.honored.resource_subscriptions == ["counter://value"]
    assert event == ResourceUpdated(uri="counter://value")


async def test_given_two_backends_sharing_a_uri_when_one_updates_then_subscribers_get_the_renamed_uri(
        start_proxy, make_api_key, serve_tool):
    serve_tool("feat", "features_server.py")
    serve_tool("feat2", "features_server.py")
    proxy = start_proxy()
    first, first_updates = updates_of("mcps://feat2/counter://value")
    second, second_updates = updates_of("mcps://feat2/counter://value")

    async with connect(proxy.url, make_api_key()[1], "legacy", message_handler=first) as one, \
            connect(proxy.url, make_api_key()[1], "legacy", message_handler=second) as other:
        assert "mcps://feat2/counter://value" in {str(r.uri) for r in (await one.list_resources()).resources}
        await one.subscribe_resource("mcps://feat2/counter://value")
        await other.subscribe_resource("mcps://feat2/counter://value")
        await until(lambda: first_updates and second_updates, every=lambda: one.call_tool("feat2__bump", {}))
        await one.unsubscribe_resource("mcps://feat2/counter://value")  # the other still counts on the server
        told = len(second_updates)
        await until(lambda: len(second_updates) > told, every=lambda: other.call_tool("feat2__bump", {}))
        await one.call_tool("feat__bump", {})  # the other server's counter: nobody subscribed

    assert all(str(u.params.uri) == "mcps://feat2/counter://value" for u in first_updates + second_updates)


@pytest.mark.skipif(not EVERYTHING.exists(), reason=f"{EVERYTHING} is missing (npm install, see test_real_servers)")
async def test_given_server_everything_when_a_legacy_client_subscribes_then_its_updates_arrive(
        start_proxy, operator_key, serve_tool):
    serve_tool("everything", command=str(EVERYTHING), args=["stdio"])
    proxy = start_proxy()

    async with connect(proxy.url, operator_key, "legacy") as client:
        uri = str((await client.list_resources()).resources[0].uri)
        handler, updates = updates_of(uri)
        client.session._message_handler = handler  # (the handler needs the URI, known only once listed)
        await client.subscribe_resource(uri)
        await client.call_tool("toggle-subscriber-updates", {})  # sends one at once, then every 5 s
        await until(lambda: updates, timeout=12)
        await client.call_tool("toggle-subscriber-updates", {})

    assert str(updates[0].params.uri) == uri


# -- list changes arrive by notice, not by the poll --------------------------------------------------

@BOTH_ERAS
async def test_given_a_slow_catalog_poll_when_a_tool_starts_then_tools_list_changed_arrives_promptly(
        start_proxy, operator_key, serve_tool, mode, version):
    serve_tool("feat", "features_server.py")
    proxy = start_proxy(MCPS_MCP__PROXY__CATALOG_REFRESH_S="600")
    changes = []

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changes.append(message)

    async with connect(proxy.url, operator_key, mode, message_handler=on_message) as client:
        await client.list_tools()
        if mode == "auto":
            async with client.listen(tools_list_changed=True) as subscription:
                await anyio.to_thread.run_sync(lambda: serve_tool("time", args=["-m", "mcp_server_time"]))
                with anyio.fail_after(5):
                    event = await subscription.__anext__()
            assert event == ToolsListChanged()
        else:
            await anyio.sleep(0.5)  # the GET stream is open
            await anyio.to_thread.run_sync(lambda: serve_tool("time", args=["-m", "mcp_server_time"]))
            await until(lambda: changes, timeout=5)
        names = {tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools}

    assert "get_current_time" in names


async def test_given_a_slow_catalog_poll_when_a_backend_changes_its_tools_then_listeners_hear_it_promptly(
        start_proxy, operator_key, serve_tool):
    serve_tool("echo", "echo_server.py")
    proxy = start_proxy(MCPS_MCP__PROXY__CATALOG_REFRESH_S="600")

    async with connect(proxy.url, operator_key, "auto") as client:
        async with client.listen(tools_list_changed=True) as subscription:
            await client.call_tool("grow", {"name": "sprout"})  # the server says its list changed
            with anyio.fail_after(5):
                await subscription.__anext__()
        names = {tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools}

    assert "sprout" in names


# -- pagination --------------------------------------------------------------------------------------

@BOTH_ERAS
async def test_given_more_items_than_a_page_when_listing_then_cursors_walk_the_aggregated_catalog(
        start_proxy, operator_key, serve_tool, mode, version):
    serve_tool("feat", "features_server.py")
    serve_tool("time", args=["-m", "mcp_server_time"])
    proxy = start_proxy(MCPS_MCP__PROXY__PAGE_SIZE="5")

    async def walk(list_page, items):
        pages, cursor = [], None
        while True:
            page = await list_page(cursor=cursor, cache_mode="bypass")
            pages.append([getattr(item, key) for item in items(page) for key in ("name",)])
            cursor = page.next_cursor
            if cursor is None:
                return pages

    async with connect(proxy.url, operator_key, mode) as client:
        tools = await walk(client.list_tools, lambda page: page.tools)
        resources = await walk(client.list_resources, lambda page: page.resources)
        prompts = await walk(client.list_prompts, lambda page: page.prompts)
        with pytest.raises(MCPError) as bad_cursor:
            await client.list_tools(cursor="not-a-cursor", cache_mode="bypass")

    assert [len(page) for page in tools] == [5, 5, 5, 1]  # 14 of features-server, 2 of mcp-server-time
    assert len({name for page in tools for name in page}) == 16 and tools[-1] == ["convert_time"]
    assert [len(page) for page in resources] == [5, 5, 3]
    assert [len(page) for page in prompts] == [5, 5, 3]
    assert bad_cursor.value.code == -32602


# -- call history ------------------------------------------------------------------------------------

@BOTH_ERAS
async def test_given_an_api_key_client_when_it_calls_then_the_call_is_in_the_keys_history_session(
        settings, start_proxy, make_api_key, serve_tool, mode, version):
    serve_tool("feat", "features_server.py")
    proxy = start_proxy()
    user, key = make_api_key("operator")

    async with connect(proxy.url, key, mode) as client:
        await client.call_tool("whisper", {"text": f"remember me ({mode})"})

    rest = create_app(settings).test_client()
    session = wait_for(lambda: Session.get_or_none(Session.name == session_name(ApiKey.get(ApiKey.user_id == user.id))))
    wait_for(lambda: Message.select().where(Message.session == session.id).exists())
    listed = rest.get("/api/v1/sessions", headers={"X-API-Key": key})
    messages = rest.get(f"/api/v1/sessions/{session.id}/messages", headers={"X-API-Key": key})

    assert session.id in [s["id"] for s in listed.json["items"]]
    assert messages.status_code == 200, messages.json
    [message] = messages.json["items"]
    assert message["tool_name"] == "whisper" and message["arguments"] == {"text": f"remember me ({mode})"}
    assert message["status"] == "succeeded" and f"remember me ({mode})" in message["result_summary"]
