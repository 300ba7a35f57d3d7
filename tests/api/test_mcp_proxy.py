"""The MCP front door end to end: real proxy processes (`python -m api.mcp_proxy`), a real worker, real MCP
servers (tests/servers/echo_server.py, mcp-server-time), clients of the official SDK in both eras.

`auto` clients land on 2026-07-28 (`server/discover`, no session); `legacy` clients run the `initialize`
handshake and get a session kept in Redis.
"""
from __future__ import annotations

import json
import sys
import time

import anyio
import httpx2
import mcp_types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from api import create_app
from api.auth.apikeys import create_api_key
from api.mcp_proxy.methods import LIST_MAX_AGE_S
from api.users.accounts import create_user
from models import Task, Tool
from policy import access as policy
from tests.api.proxies import LEGACY, MODERN, connect, initialize, post
from tests.harness import ROOT, SERVERS, make_stdio_tool, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def proxy(start_proxy):
    return start_proxy()


@pytest.fixture
def make_key(settings, database):
    """make_key(role, tool_scope=None): a new user of that role and a raw API key of theirs, scoped to
    the tools of those names (by id, as the API stores scopes)."""
    app = create_app(settings)
    made = iter(range(1000))

    def make(role: str = "operator", tool_scope: list[str] | None = None) -> str:
        with app.app_context():
            user = create_user(f"{role}-{next(made)}", "correct-horse-battery", role=role)
            scope = policy.resolve_tool_refs(tool_scope) if tool_scope is not None else None
            return create_api_key(user, "cursor", tool_scope=scope)[1]
    return make


@pytest.fixture
def operator_token(settings, make_key):
    """An operator's access JWT, from a login at the REST API."""
    make_key("operator")
    response = create_app(settings).test_client().post(
        "/api/v1/auth/login", json={"username": "operator-0", "password": "correct-horse-battery"})
    assert response.status_code == 200, response.json
    return response.json["access_token"]


@pytest.fixture
def operator_key(make_key):
    return make_key("operator")


@pytest.fixture
def start_tool(start_worker, run_job):
    """start_tool(name, script or module args): a stdio tool created and started by the test's real worker."""
    workers = []

    def start(name: str, script: str | None = None, args: list[str] | None = None) -> Tool:
        if not workers:
            workers.append(start_worker())
        if script is not None:
            tool = make_stdio_tool(name, script)
        else:
            tool = Tool.create(name=name, transport="stdio", command=sys.executable, args=args)
        event = run_job("start", tool.id)
        assert event["status"] == "succeeded", event
        # The worker writes the tool row after its reply; a proxy's lists may be LIST_MAX_AGE_S older.
        wait_for(lambda: Tool.get_by_id(tool.id).status == "RUNNING" and Tool.get_by_id(tool.id).mcp_tools)
        time.sleep(LIST_MAX_AGE_S + 0.05)
        return Tool.get_by_id(tool.id)
    return start


def text_of(result) -> str:
    return result.content[0].text


# -- auth and the wire -------------------------------------------------------------------------

def test_given_no_credentials_when_posting_then_401_with_www_authenticate(proxy):
    response = post(proxy.url, None, {"jsonrpc": "2.0", "id": 1, "method": "ping"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="mcps"')
    assert "error" in response.json()


def test_given_a_wrong_key_when_posting_then_401_invalid_token(proxy):
    response = post(proxy.url, "mcps_not-a-key", {"jsonrpc": "2.0", "id": 1, "method": "ping"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("body, code", [
    (b"{not json", -32700),
    (b"[]", -32600),
    (json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]), -32600),
    (json.dumps({"jsonrpc": "1.0", "id": 1, "method": "ping"}), -32600),
    (json.dumps({"jsonrpc": "2.0", "id": 10 ** 30, "method": "ping"}), -32600),
    (json.dumps({"jsonrpc": "2.0", "id": "x" * 10_000, "method": "ping"}), -32600),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": 42}), -32600),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1, 2]}), -32602),
    (b"1" * 5000, -32700),
    (b'"just a string"', -32600),
])
def test_given_malformed_json_rpc_when_posted_then_a_json_rpc_error_and_the_proxy_lives_on(
        proxy, operator_key, body, code):
    response = post(proxy.url, operator_key, body)

    assert response.json()["error"]["code"] == code
    assert response.status_code == 400
    assert post(proxy.url, operator_key, {"jsonrpc": "2.0", "id": 1, "method": "ping",
                                         "params": {"_meta": {}}}, **{"Mcp-Session-Id": "nope"}).status_code == 404


def test_given_a_handshake_request_without_a_session_when_posted_then_400(proxy, operator_key):
    response = post(proxy.url, operator_key, {"jsonrpc": "2.0", "id": 7, "method": "tools/list"})

    assert response.status_code == 400
    assert response.json()["id"] == 7


# -- both eras against real servers ------------------------------------------------------------

@pytest.fixture
def two_echoes_and_time(start_tool):
    """Two echo servers (every name shared) and mcp-server-time (names of its own), running."""
    return start_tool("echo", "echo_server.py"), start_tool("echo2", "echo_server.py"), \
        start_tool("time", args=["-m", "mcp_server_time"])


@pytest.mark.parametrize("mode, version", [("auto", MODERN), ("legacy", LEGACY)])
async def test_given_two_servers_sharing_names_when_a_client_lists_and_calls_then_conflicts_are_prefixed(
        proxy, operator_key, two_echoes_and_time, mode, version):
    async with connect(proxy.url, operator_key, mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        echoed = await client.call_tool("echo2__echo", {"text": "hello"})
        added = await client.call_tool("echo__add", {"a": 2, "b": 3})
        now = await client.call_tool("get_current_time", {"timezone": "UTC"})

        assert client.protocol_version == version
        assert client.server_info.name == "mcps"
    assert {"echo__echo", "echo2__echo", "echo__add", "get_current_time", "convert_time"} <= names
    assert "echo" not in names
    assert "hello" in text_of(echoed)
    assert added.structured_content == {"sum": 5} or "5" in text_of(added)
    assert json.loads(text_of(now))["timezone"] == "UTC"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_given_a_running_server_when_a_client_reads_resources_and_prompts_then_the_servers_answers(
        proxy, operator_key, start_tool, mode):
    start_tool("echo", "echo_server.py")

    async with connect(proxy.url, operator_key, mode) as client:
        resources = (await client.list_resources()).resources
        read = await client.read_resource("memo://greeting")
        prompts = (await client.list_prompts()).prompts
        prompt = await client.get_prompt("review", {"code": "print(1)"})

    assert [str(r.uri) for r in resources] == ["memo://greeting"]
    assert read.contents[0].text
    assert [p.name for p in prompts] == ["review"]
    assert "print(1)" in prompt.messages[0].content.text


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_given_a_single_tool_endpoint_when_listed_then_its_own_names_and_identity(
        proxy, operator_key, two_echoes_and_time, mode):
    async with connect(f"{proxy.url}/tools/echo2", operator_key, mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        echoed = await client.call_tool("echo", {"text": "just me"})

        assert client.server_info.name == "echo-server"
    assert "echo" in names and "get_current_time" not in names
    assert "just me" in text_of(echoed)


async def test_given_an_unknown_tool_when_called_then_a_json_rpc_error(proxy, operator_key, start_tool):
    start_tool("echo", "echo_server.py")

    async with connect(proxy.url, operator_key) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("no_such_tool", {})

    assert raised.value.code == -32602


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_given_a_slow_tool_when_called_with_progress_then_progress_notifications_arrive(
        proxy, operator_key, start_tool, mode):
    start_tool("echo", "echo_server.py")
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total, message))

    async with connect(proxy.url, operator_key, mode) as client:
        result = await client.call_tool("slow", {"steps": 3, "delay": 0.05}, progress_callback=on_progress)

    assert result.is_error is False
    assert [p for p, _, _ in seen] == [1, 2, 3]


async def test_given_a_legacy_session_with_a_log_level_when_a_tool_logs_then_the_client_hears_it(
        proxy, operator_key, start_tool):
    start_tool("echo", "echo_server.py")
    heard = []

    async def on_log(params):
        heard.append(params)

    async with connect(proxy.url, operator_key, "legacy", logging_callback=on_log) as client:
        await client.set_logging_level("info")
        await client.call_tool("chatty", {"text": "hi"})

    assert [m.level for m in heard] == ["info", "warning"]


# -- sessions across processes -----------------------------------------------------------------

def test_given_one_handshake_session_when_two_proxy_processes_alternate_then_both_serve_it(
        start_proxy, operator_key, start_tool):
    start_tool("echo", "echo_server.py")
    first, second = start_proxy(), start_proxy()
    session = initialize(first.url, operator_key)
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
    assert post(second.url, operator_key, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                **headers).status_code == 202

    answers = []
    for n, proxy in enumerate([first, second, first, second]):
        body = {"jsonrpc": "2.0", "id": 10 + n, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": f"turn {n}"}}}
        answers.append(post(proxy.url, operator_key, body, **headers).json())

    assert [a["id"] for a in answers] == [10, 11, 12, 13]
    assert all(f"turn {n}" in a["result"]["content"][0]["text"] for n, a in enumerate(answers))
    assert httpx2.delete(second.url, headers={"Authorization": f"Bearer {operator_key}",
                                              **headers}).status_code == 200
    assert post(first.url, operator_key, {"jsonrpc": "2.0", "id": 99, "method": "ping"},
                **headers).status_code == 404


# -- scope and roles ---------------------------------------------------------------------------

async def test_given_a_key_scoped_to_one_tool_when_listing_then_only_that_tool_is_seen(
        proxy, make_key, two_echoes_and_time):
    key = make_key("operator", tool_scope=["time"])

    async with connect(proxy.url, key) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        with pytest.raises(MCPError):
            await client.call_tool("echo__echo", {"text": "no"})

    assert names == {"get_current_time", "convert_time"}


async def test_given_a_key_scoped_to_a_tool_when_tools_are_renamed_then_it_reaches_the_same_tool_only(
        proxy, make_key, start_tool):
    # Given a key scoped to `echo`, and another tool `secret`
    echo = start_tool("echo", "echo_server.py")
    start_tool("secret", "legacy_server.py")
    key = make_key("operator", tool_scope=["echo"])
    # When `echo` becomes `echo-old` and `secret` takes the name `echo`
    Tool.update(name="echo-old").where(Tool.id == echo.id).execute()
    Tool.update(name="echo").where(Tool.name == "secret").execute()

    # Then the key still sees only the tool it was given (scopes are by id, renames move no rights)
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    wait_for(lambda: post(proxy.url + "/tools/echo", key, ping).status_code == 404)
    async with connect(proxy.url + "/tools/echo-old", key) as client:
        own = {tool.name for tool in (await client.list_tools()).tools}
    async with connect(proxy.url, key) as client:
        everything = {tool.name for tool in (await client.list_tools()).tools}
    assert "add" in own and everything == own


async def test_given_a_viewer_when_calling_then_refused_but_listing_works(proxy, make_key, start_tool):
    start_tool("echo", "echo_server.py")
    key = make_key("viewer")

    async with connect(proxy.url, key) as client:
        assert (await client.list_tools()).tools
        with pytest.raises(MCPError):
            await client.call_tool("echo", {"text": "no"})


async def test_given_an_access_jwt_when_a_client_connects_then_it_is_served(proxy, operator_token, start_tool):
    start_tool("echo", "echo_server.py")

    async with connect(proxy.url, operator_token, "legacy") as client:
        echoed = await client.call_tool("echo", {"text": "by token"})

    assert "by token" in text_of(echoed)
    refresh_like = operator_token[:-4] + "AAAA"
    assert post(proxy.url, refresh_like, {"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 401


# -- robustness --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_given_a_session_when_the_backend_restarts_then_the_client_keeps_calling(
        proxy, operator_key, start_tool, run_job, mode):
    echo = start_tool("echo", "echo_server.py")

    async with connect(proxy.url, operator_key, mode) as client:
        before = await client.call_tool("pid", {})
        event = await anyio.to_thread.run_sync(lambda: run_job("restart", echo.id))
        assert event["status"] == "succeeded", event
        after = await client.call_tool("pid", {})

    assert text_of(before) != text_of(after)


# -- list changes --------------------------------------------------------------------------------

async def test_given_a_legacy_session_when_a_tool_starts_then_tools_list_changed_arrives(
        proxy, operator_key, start_tool):
    start_tool("echo", "echo_server.py")
    changes = []

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changes.append(message)

    async with connect(proxy.url, operator_key, "legacy", message_handler=on_message) as client:
        await client.list_tools()
        await anyio.sleep(1)  # the GET stream is open, and the echo server's arrival told
        told_before = len(changes)
        await anyio.to_thread.run_sync(lambda: start_tool("time", args=["-m", "mcp_server_time"]))
        with anyio.fail_after(10):
            while len(changes) == told_before:
                await anyio.sleep(0.05)
        names = {tool.name for tool in (await client.list_tools()).tools}

    assert "get_current_time" in names


# -- cancellation ------------------------------------------------------------------------------

async def test_given_a_hanging_call_when_the_legacy_client_gives_up_then_the_job_is_cancelled(
        proxy, operator_key, start_tool):
    start_tool("echo", "echo_server.py")

    async with connect(proxy.url, operator_key, "legacy") as client:
        with pytest.raises(MCPError):
            await client.call_tool("hang", {}, read_timeout_seconds=1)

    task = wait_for(lambda: Task.get_or_none((Task.kind == "call") & (Task.status == "cancelled")), timeout=15)
    assert task.args["tool"] == "hang"


# -- the stdio bridge --------------------------------------------------------------------------

@pytest.mark.parametrize("mode, version", [("auto", MODERN), ("legacy", LEGACY)])
async def test_given_the_stdio_bridge_when_a_client_launches_it_then_it_reaches_the_front_door(
        proxy, operator_key, start_tool, mode, version):
    start_tool("echo", "echo_server.py")
    bridge = StdioServerParameters(command=sys.executable, cwd=str(ROOT),
                                   args=["-m", "api.mcp_proxy", "--stdio", "--url", proxy.url],
                                   env={"MCPS_API_KEY": operator_key, "PYTHONPATH": str(ROOT)})

    async with Client(bridge, mode=mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        echoed = await client.call_tool("echo", {"text": "over stdio"})

        assert client.protocol_version == version
    assert "echo" in names
    assert "over stdio" in text_of(echoed)


# -- a backend's questions to the client (elicitation, sampling, roots) ------------------------------

BACKEND_ERAS = {"handshake": ["--legacy"], "2026": []}


async def on_elicit(context, params):
    return mcp_types.ElicitResult(action="accept", content={"confirm": True})


async def on_sample(context, params):
    return mcp_types.CreateMessageResult(role="assistant", model="test-model",
                                         content=mcp_types.TextContent(type="text", text="in short"))


async def on_roots(context):
    return mcp_types.ListRootsResult(roots=[mcp_types.Root(uri="file:///client/root")])


ASKED = {"elicitation_callback": on_elicit, "sampling_callback": on_sample, "list_roots_callback": on_roots}


def start_asking(start_tool, era: str) -> Tool:
    tool = start_tool(f"asking-{era}", args=[str(SERVERS / "asking_server.py"), *BACKEND_ERAS[era]])
    assert Tool.get_by_id(tool.id).protocol_version == (LEGACY if era == "handshake" else MODERN)
    return tool


@pytest.mark.parametrize("backend_era", sorted(BACKEND_ERAS))
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_given_a_backend_that_asks_when_called_then_the_client_answers_in_every_era_pairing(
        proxy, operator_key, start_tool, mode, backend_era):
    await anyio.to_thread.run_sync(start_asking, start_tool, backend_era)

    async with connect(proxy.url, operator_key, mode, **ASKED) as client:
        confirmed = await client.call_tool("confirm", {"action": "deploy"})
        summary = await client.call_tool("summarize", {"text": "a long story"})
        roots = await client.call_tool("roots", {})

        assert client.protocol_version == (LEGACY if mode == "legacy" else MODERN)
    assert text_of(confirmed) == "confirmed deploy"
    assert text_of(summary) == "summary: in short"
    assert text_of(roots) == "file:///client/root"


async def test_given_a_legacy_client_without_the_capability_when_the_backend_asks_then_the_backend_gets_an_error(
        proxy, operator_key, start_tool):
    await anyio.to_thread.run_sync(start_asking, start_tool, "handshake")

    async with connect(proxy.url, operator_key, "legacy") as client:  # no elicitation callback: not declared
        result = await client.call_tool("confirm", {"action": "deploy"})

    assert "no answer for deploy" in text_of(result)
    assert "did not declare" in text_of(result)


async def test_given_a_2026_question_when_another_caller_or_a_forged_state_resumes_it_then_refused(
        proxy, operator_key, make_key, start_tool):
    await anyio.to_thread.run_sync(start_asking, start_tool, "handshake")
    answer = {}

    async with connect(proxy.url, operator_key, "auto", **ASKED) as owner:
        asked = await owner.session.call_tool("confirm", {"action": "deploy"}, allow_input_required=True)
        (request_id, question), = asked.input_requests.items()
        answer[request_id] = mcp_types.ElicitResult(action="accept", content={"confirm": True})
        async with connect(proxy.url, make_key("operator"), "auto", **ASKED) as mallory:
            with pytest.raises(MCPError) as stolen:
                await mallory.session.call_tool("confirm", {"action": "deploy"}, input_responses=answer,
                                                request_state=asked.request_state, allow_input_required=True)
        forged = asked.request_state[:-2] + ("AA" if not asked.request_state.endswith("AA") else "BB")
        with pytest.raises(MCPError) as tampered:
            await owner.session.call_tool("confirm", {"action": "deploy"}, input_responses=answer,
                                          request_state=forged, allow_input_required=True)
        finished = await owner.session.call_tool("confirm", {"action": "deploy"}, input_responses=answer,
                                                 request_state=asked.request_state, allow_input_required=True)

    assert question.method == "elicitation/create"
    assert stolen.value.code == tampered.value.code == -32602
    assert text_of(finished) == "confirmed deploy"


async def test_given_a_question_on_a_legacy_session_when_another_session_answers_it_then_404(
        proxy, operator_key, start_tool):
    await anyio.to_thread.run_sync(start_asking, start_tool, "handshake")
    intruder_session = initialize(proxy.url, operator_key)
    intruded = []

    async def answer_and_intrude(context, params):
        response = {"jsonrpc": "2.0", "id": context.request_id, "result": {"action": "decline"}}
        intruded.append(await anyio.to_thread.run_sync(lambda: post(
            proxy.url, operator_key, response, **{"Mcp-Session-Id": intruder_session,
                                                  "MCP-Protocol-Version": LEGACY}).status_code))
        return mcp_types.ElicitResult(action="accept", content={"confirm": True})

    async with connect(proxy.url, operator_key, "legacy", elicitation_callback=answer_and_intrude) as client:
        result = await client.call_tool("confirm", {"action": "deploy"})

    assert intruded == [404]
    assert text_of(result) == "confirmed deploy"

