"""Fault g: one of two MCP front door processes killed with SIGKILL mid-session. A handshake-era session
(kept in Redis) carries on at the other; a client whose call was in flight at the dead one gets an error at
once, not a hang; the call itself ran once."""
import json
import os
import signal
import threading
import time

import httpx2
import pytest

from api import create_app
from api.auth.apikeys import create_api_key
from api.users.accounts import create_user
from models import Task
from tests.api.proxies import LEGACY, ProxyProcess, connect, initialize, post
from tests.harness import make_stdio_tool, wait_for
from jobs import Job, JobClient
from jobs.connection import redis_client


@pytest.fixture
def start_proxy(fault_settings, database):
    proxies = []

    def start() -> ProxyProcess:
        proxy = ProxyProcess(fault_settings)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


def test_given_a_session_on_two_proxies_when_one_is_killed_then_the_other_serves_it_and_in_flight_calls_fail_fast(
        fault_settings, database, start_workers, start_proxy, tmp_path):
    # Given a worker with a tool counting its executions, two front door processes and an operator's key
    start_workers(fault_settings)
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    jobs = JobClient.from_settings(fault_settings, redis_client(fault_settings))
    assert jobs.run(Job(kind="start", tool_id=tool.id), 20)["status"] == "succeeded"
    with create_app(fault_settings).app_context():
        key = create_api_key(create_user("operator", "correct-horse-battery", role="operator"), "cursor")[1]
    doomed, survivor = start_proxy(), start_proxy()
    # and a handshake-era session begun at the doomed one
    session = initialize(doomed.url, key)
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
    assert post(doomed.url, key, {"jsonrpc": "2.0", "method": "notifications/initialized"}, **headers).status_code == 202
    for proxy in (doomed, survivor):  # both have loaded the running tool
        wait_for(lambda: '"slow"' in post(proxy.url, key, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                          **headers).text, timeout=10)

    # When a slow call is in flight at the doomed process and it is killed
    outcome = {}

    def slow_call() -> None:
        started = time.monotonic()
        try:
            outcome["response"] = httpx2.post(doomed.url, content=json.dumps(
                {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                 "params": {"name": "slow", "arguments": {"steps": 30, "delay": 0.1}}}),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                         "Accept": "application/json, text/event-stream", **headers}, timeout=30)
        except httpx2.HTTPError as error:
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started
    caller = threading.Thread(target=slow_call)
    caller.start()
    wait_for(lambda: calls_file.exists() and "slow" in calls_file.read_text(), timeout=10)
    os.kill(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(5)
    caller.join(10)

    # Then its client gets an error at once, not a hang until its 30 s timeout
    assert not caller.is_alive()
    assert "error" in outcome, outcome.get("response") and outcome["response"].text
    assert outcome["seconds"] < 5
    # and the session carries on at the other process
    answer = post(survivor.url, key, {"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                                      "params": {"name": "echo", "arguments": {"text": "still here"}}}, **headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["content"][0]["text"] == "still here"
    # and the front door's status drops the dead process once its heartbeat expires
    admin = create_app(fault_settings).test_client()
    with create_app(fault_settings).app_context():
        create_user("admin", "correct-horse-battery", role="admin")
    token = admin.post("/api/v1/auth/login", json={"username": "admin", "password": "correct-horse-battery"}).json
    status = wait_for(lambda: (s := admin.get("/api/v1/proxy/status", headers={
        "Authorization": f"Bearer {token['access_token']}"}).json)["processes"] == 1 and s, timeout=10)
    assert status["serving"] is True
    assert [p["pid"] for p in status["per_process"]] == [survivor.process.pid]
    # and the call whose client went away ran once, to its end, and is recorded
    wait_for(lambda: [t.status for t in Task.select().where(Task.tool_id == tool.id, Task.kind == "call")
                      if t.args["tool"] == "slow"] == ["succeeded"], timeout=10)
    assert calls_file.read_text().splitlines().count("slow") == 1
    assert calls_file.read_text().splitlines().count("echo") == 1


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_given_a_call_through_the_front_door_when_its_worker_is_killed_then_the_client_gets_worker_lost(
        fault_settings, database, start_workers, start_proxy, tmp_path, mode):
    import anyio
    from mcp.shared.exceptions import MCPError
    from tests.faults.conftest import worker_pid

    # Given a worker with a tool, the front door, and a client of each era
    worker, = start_workers(fault_settings)
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    jobs = JobClient.from_settings(fault_settings, redis_client(fault_settings))
    assert jobs.run(Job(kind="start", tool_id=tool.id), 20)["status"] == "succeeded"
    with create_app(fault_settings).app_context():
        key = create_api_key(create_user("operator", "correct-horse-battery", role="operator"), "cursor")[1]
    proxy = start_proxy()
    _, pid = worker_pid(worker, fault_settings)

    async def scenario():
        async with connect(proxy.url, key, mode) as client:
            await wait_listed(client)

            async def kill_when_running():
                while not (calls_file.exists() and "slow" in calls_file.read_text()):
                    await anyio.sleep(0.05)
                os.kill(pid, signal.SIGKILL)
            async with anyio.create_task_group() as group:
                group.start_soon(kill_when_running)
                started = time.monotonic()
                # When the worker running the call is killed
                with pytest.raises(MCPError) as raised:
                    await client.call_tool("slow", {"steps": 200, "delay": 0.1}, read_timeout_seconds=30)
            return raised.value, time.monotonic() - started

    async def wait_listed(client):
        for _ in range(100):
            if "slow" in {t.name for t in (await client.list_tools()).tools}:
                return
            await anyio.sleep(0.1)

    error, seconds = anyio.run(scenario)

    # Then the client reads worker_lost quickly, not a hang to its 30 s
    assert error.code == -32012, error
    assert seconds < 6
    assert calls_file.read_text().splitlines().count("slow") == 1
