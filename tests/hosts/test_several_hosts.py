"""The platform as two hosts on one Redis and one PostgreSQL (README.md, "Running on several machines"):
whichever API or front door process a request lands on serves it, sessions included; a worker host that
dies (kill -9 of its supervisor and everything under it) loses its calls in flight with a clear error,
and its tools run again on the other host within 5 s."""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx2
import psutil
import pytest

from jobs.connection import redis_client
from jobs.leases import ToolOwnerLease
from models import Task, Tool
from tests.api.proxies import LEGACY, connect, initialize, post
from tests.harness import SERVERS, wait_for
from tests.hosts.conftest import PASSWORD, admin_of, host_of

pytestmark = pytest.mark.hosts
TAKEOVER_LIMIT_S = 5.0


def api_client(host, token: str | None = None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.Client(base_url=f"{host.web.url}/api/v1", headers=headers, timeout=60)


def login(host) -> str:
    response = api_client(host).post("/auth/login", json={"username": "admin", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


QUICK_SERVER = Path(__file__).with_name("quick_server.py")


def echo_body(name: str, calls_file, script: Path = SERVERS / "echo_server.py") -> dict:
    """A stdio tool whose env holds a value stored encrypted (each host's processes must read it)."""
    return {"name": name, "transport": "stdio", "command": sys.executable, "args": [str(script)],
            "env": {"ECHO_CALLS_FILE": str(calls_file)}}


def rpc_answer(response: httpx2.Response) -> dict:
    """The JSON-RPC answer of a POST, sent as JSON or as the last message of an SSE stream."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        messages = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
        return [m for m in messages if "id" in m][-1]
    return response.json()


def call_rpc(url: str, key: str, session: str, request_id: int, name: str, arguments: dict) -> dict:
    response = post(url, key, {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                               "params": {"name": name, "arguments": arguments}},
                    **{"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})
    assert response.status_code == 200, response.text
    return rpc_answer(response)


def open_session(first_url: str, second_url: str, key: str) -> str:
    """A handshake-era session begun at one front door and confirmed (notifications/initialized) at the other."""
    session = initialize(first_url, key)
    confirmed = post(second_url, key, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                     **{"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})
    assert confirmed.status_code == 202, confirmed.text
    return session


def count(calls_file, name: str) -> int:
    return calls_file.read_text().splitlines().count(name) if calls_file.exists() else 0


def test_given_two_hosts_when_requests_land_on_either_api_or_front_door_then_each_serves_them(two_hosts, tmp_path):
    # Given two hosts and an admin, logged in at host A's API
    a, b = two_hosts
    admin_of(a.settings)
    token = login(a)
    at_a, at_b = api_client(a, token), api_client(b, token)

    # When a tool is defined at B, started at A, called at B, and an async call sent at A is read at B
    tool = at_b.post("/tools", json=echo_body("echo", tmp_path / "calls.txt"))
    assert tool.status_code == 201, tool.text
    tool_id = tool.json()["id"]
    started = at_a.post(f"/tools/{tool_id}/start?wait=true")
    assert started.status_code == 200 and started.json()["status"] == "succeeded", started.text
    called = at_b.post(f"/tools/{tool_id}/call", json={"tool": "echo", "arguments": {"text": "via b"}})
    accepted = at_a.post(f"/tools/{tool_id}/call?async=true", json={"tool": "add", "arguments": {"a": 2, "b": 3}})
    assert accepted.status_code == 202, accepted.text
    task = wait_for(lambda: (t := at_b.get(f"/tasks/{accepted.json()['task_id']}").json())["status"] == "succeeded"
                    and t, timeout=15)

    # Then every answer is the tool's, whichever API served it, and both see the same tool
    assert called.status_code == 200 and called.json()["content"][0]["text"] == "via b", called.text
    assert task["result"]["structuredContent"] == {"total": 5}, task
    assert at_a.get(f"/tools/{tool_id}").json()["status"] == at_b.get(f"/tools/{tool_id}").json()["status"] == "RUNNING"
    # and the secret env value, encrypted by B's API, was read by whichever worker host started the tool
    assert count(tmp_path / "calls.txt", "echo") == 1

    # When an API key made at A opens a handshake-era session at front door A and goes on at B, alternating
    key = at_a.post("/auth/api-keys", json={"name": "laptop"}).json()["key"]
    url_a, url_b = f"{a.proxy.base}/mcp/tools/echo", f"{b.proxy.base}/mcp/tools/echo"
    session = open_session(url_a, url_b, key)
    answers = [call_rpc(url, key, session, 10 + n, "echo", {"text": f"turn {n}"})
               for n, url in enumerate([url_b, url_a, url_b, url_a])]

    # Then both front doors serve the one session, in order
    assert [answer["id"] for answer in answers] == [10, 11, 12, 13]
    assert [answer["result"]["content"][0]["text"] for answer in answers] == [f"turn {n}" for n in range(4)]

    # and a 2026-era client (no session) is served by either front door too
    async def modern_calls() -> list[str]:
        texts = []
        for url in (url_a, url_b):
            async with connect(url, key) as client:
                texts.append((await client.call_tool("echo", {"text": url[-20:]})).content[0].text)
        return texts
    assert anyio.run(modern_calls) == [url_a[-20:], url_b[-20:]]
    # and the session ends wherever it is deleted
    deleted = httpx2.delete(url_b, headers={"Authorization": f"Bearer {key}", "Mcp-Session-Id": session,
                                            "MCP-Protocol-Version": LEGACY})
    assert deleted.status_code == 200
    gone = post(url_a, key, {"jsonrpc": "2.0", "id": 99, "method": "ping"},
                **{"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})
    assert gone.status_code == 404


def test_given_two_hosts_when_one_worker_host_is_killed_then_its_calls_fail_clearly_and_its_tools_move_within_5s(
        two_hosts, tmp_path):
    # Given two hosts, an admin, and tools started until each worker host owns at least one (servers that
    # start in milliseconds: the time measured is the platform's, not an SDK server's seconds of imports)
    a, b = two_hosts
    admin_of(a.settings)
    token = login(a)
    at_a, at_b = api_client(a, token), api_client(b, token)
    redis = redis_client(a.settings)
    leases = ToolOwnerLease(redis, a.settings)
    tools: dict[int, str] = {}  # id -> name
    for n in range(8):
        name = f"echo{n}"
        created = at_a.post("/tools", json=echo_body(name, tmp_path / f"{name}.calls", QUICK_SERVER))
        assert created.status_code == 201, created.text
        tools[created.json()["id"]] = name
        assert at_b.post(f"/tools/{created.json()['id']}/start?wait=true").status_code == 200
        owners = {host_of(two_hosts, leases.owner(tool_id)).name for tool_id in tools}
        if len(tools) >= 3 and owners == {"a", "b"}:
            break
    first_tool = next(iter(tools))
    victim = host_of(two_hosts, leases.owner(first_tool))
    survivor = b if victim is a else a
    moving = [t for t in tools if leases.owner(t) in victim.worker_ids]
    staying = {t: at_a.get(f"/tools/{t}").json()["pid"] for t in tools if t not in moving}
    moving_pids = [at_a.get(f"/tools/{t}").json()["pid"] for t in moving]
    victim_tool = tools[first_tool]
    calls_file = tmp_path / f"{victim_tool}.calls"

    # and a slow call on a tool of the doomed host in flight through each API and through a front door
    key = at_a.post("/auth/api-keys", json={"name": "laptop"}).json()["key"]
    url_a, url_b = (f"{host.proxy.base}/mcp/tools/{victim_tool}" for host in (a, b))
    session = open_session(url_a, url_b, key)
    outcomes: dict[str, tuple] = {}

    def rest_call(label: str, client: httpx2.Client) -> None:
        response = client.post(f"/tools/{first_tool}/call", json={
            "tool": "slow", "arguments": {"seconds": 30}, "timeout": 60})
        outcomes[label] = (response.status_code, response.json(), time.monotonic())

    def mcp_call() -> None:
        # Its own client: the proxy's answer is an SSE stream read to its end (the `post` helper times out at 10 s)
        response = httpx2.post(url_b, content=json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "slow", "arguments": {"seconds": 30}}}), timeout=60, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})
        outcomes["mcp"] = (response.status_code, rpc_answer(response), time.monotonic())

    callers = [threading.Thread(target=rest_call, args=("rest_a", api_client(a, token))),
               threading.Thread(target=rest_call, args=("rest_b", api_client(b, token))),
               threading.Thread(target=mcp_call)]
    for caller in callers:
        caller.start()
    wait_for(lambda: count(calls_file, "slow") == 3, timeout=20)

    # When the doomed worker host dies at once: supervisor, Dramatiq processes and servers, kill -9
    killed = victim.kill()
    killed_at = time.monotonic()

    # Then each caller in flight gets a clear worker_lost error within a few seconds, not a hang to its 60 s
    for caller in callers:
        caller.join(15)
    assert not any(caller.is_alive() for caller in callers), outcomes
    for label in ("rest_a", "rest_b"):
        status, body, at = outcomes[label]
        assert status == 503 and body["errors"]["error_type"] == "worker_lost", (label, body)
        assert at - killed_at < TAKEOVER_LIMIT_S, (label, at - killed_at)
    status, answer, at = outcomes["mcp"]
    assert status == 200 and answer["error"]["code"] == -32012, answer
    assert at - killed_at < TAKEOVER_LIMIT_S

    # and every tool of the dead host runs again on the survivor within 5 s of the kill
    def moved() -> bool:
        rows = [Tool.get_by_id(t) for t in moving]
        return all(row.status == "RUNNING" and row.owner_worker in survivor.worker_ids and row.pid not in moving_pids
                   for row in rows)
    wait_for(moved, timeout=15, interval=0.02)
    takeover_s = time.monotonic() - killed_at
    print(f"\nevent=hosts.takeover tools_moved={len(moving)} seconds={takeover_s:.2f}")
    assert takeover_s < TAKEOVER_LIMIT_S, f"the dead host's tools ran again after {takeover_s:.2f} s"

    # and new calls succeed through either API and in the session begun before, on either front door
    for client in (at_a, at_b):
        for tool_id, name in tools.items():
            answer = client.post(f"/tools/{tool_id}/call", json={"tool": "echo", "arguments": {"text": name}})
            assert answer.status_code == 200 and answer.json()["content"][0]["text"] == name, answer.text
    for n, url in enumerate((url_a, url_b)):
        assert call_rpc(url, key, session, 20 + n, "echo", {"text": "after"})["result"]["content"][0]["text"] == "after"
    # and the survivor's own tools never stopped
    assert {t: at_a.get(f"/tools/{t}").json()["pid"] for t in staying} == staying
    # and the calls lost were run once, never again elsewhere; the dead host's processes are all gone
    time.sleep(1)
    assert count(calls_file, "slow") == 3
    assert not [pid for pid in killed + moving_pids if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    # and each lost call is recorded as a failed task naming the dead host's worker (the MCP one too)
    lost = wait_for(lambda: (rows := list(Task.select().where(Task.tool_id == first_tool, Task.error_type == "worker_lost")))
                    and len(rows) == 3 and rows, timeout=10)
    assert {(row.status, row.worker_id in victim.worker_ids) for row in lost} == {("failed", True)}
    assert {outcomes[label][1]["errors"]["task_id"] for label in ("rest_a", "rest_b")} < {row.id for row in lost}
    # and no task is left queued or running on the dead host
    assert not Task.select().where(Task.worker_id.in_(list(victim.worker_ids)),
                                   Task.status.in_(("queued", "running"))).count()
