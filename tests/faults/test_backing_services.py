"""Fault c: the backing services go away under traffic. Redis (a redis-server of the test's own, on its own
port, without persistence) is stopped and started again with nothing in it; PostgreSQL drops every
connection (pg_terminate_backend). Callers get a clear 503 meanwhile, and afterwards everything works
again without restarting any process."""
import threading
import time

import httpx2
import pytest

from models import Message, Task, Tool
from tests.faults.conftest import FAULT_SETTINGS, rest_operator
from tests.api.proxies import LEGACY, ProxyProcess, initialize, post
from tests.harness import make_stdio_tool, wait_for
from jobs import Job, JobClient, registry
from jobs.connection import redis_client


def call(client, headers, tool_id, text, **body):
    return client.post(f"/api/v1/tools/{tool_id}/call", headers=headers,
                       json={"tool": "echo", "arguments": {"text": text}, **body})


@pytest.fixture
def start_proxy():
    proxies = []

    def start(settings) -> ProxyProcess:
        proxies.append(ProxyProcess(settings))
        return proxies[-1]
    yield start
    for proxy in proxies:
        proxy.stop()


def proxy_call(proxy, key, text):
    """A handshake-era client's whole exchange: initialize, then tools/call echo (the last answer)."""
    try:
        session = initialize(proxy.url, key)
    except (AssertionError, KeyError, ValueError, httpx2.HTTPError) as error:
        return httpx2.Response(599, text=f"initialize failed: {error}")
    return post(proxy.url, key, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {"text": text}}},
                **{"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY})


def test_given_traffic_when_redis_stops_and_comes_back_empty_then_503_meanwhile_and_everything_works_after(
        make_settings, database, own_redis, start_workers, start_proxy, tmp_path):
    # Given a worker and the API on a Redis of the test's own, a running tool, and a slow call in flight
    settings = make_settings(**{**FAULT_SETTINGS, "redis.url": own_redis.url})
    workers = start_workers(settings)
    client, headers = rest_operator(settings)
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    assert client.post(f"/api/v1/tools/{tool.id}/start?wait=true", headers=headers).status_code == 200
    pid = Tool.get_by_id(tool.id).pid
    assert call(client, headers, tool.id, "before").status_code == 200
    # and the front door on that Redis too, with an API key
    proxy = start_proxy(settings)
    key = client.post("/api/v1/auth/api-keys", headers=headers, json={"name": "laptop"}).json["key"]
    assert "before" in proxy_call(proxy, key, "before").text
    in_flight = {}

    def slow_call() -> None:
        in_flight["response"] = client.post(f"/api/v1/tools/{tool.id}/call", headers=headers, json={
            "tool": "slow", "arguments": {"steps": 10, "delay": 0.1}})
    caller = threading.Thread(target=slow_call)
    caller.start()
    wait_for(lambda: calls_file.exists() and "slow" in calls_file.read_text(), timeout=10)

    # When Redis stops
    own_redis.stop()
    caller.join(5)

    # Then the call in flight and new calls fail at once with 503, not a hang or a 500
    assert not caller.is_alive()
    assert in_flight["response"].status_code == 503, in_flight["response"].json
    started = time.monotonic()
    during = call(client, headers, tool.id, "during")
    assert during.status_code == 503, during.json
    assert "Redis is unavailable" in during.json["message"]
    assert time.monotonic() - started < 2
    health = client.get("/api/v1/system/health")
    assert health.status_code == 503 and health.json["checks"]["redis"]["ok"] is False
    # and the front door answers at once, with an error
    started = time.monotonic()
    refused = proxy_call(proxy, key, "during")
    assert refused.status_code >= 500 or "error" in refused.json(), refused.text
    assert time.monotonic() - started < 2
    time.sleep(1)  # the worker's heartbeat and consumers fail meanwhile

    # When Redis comes back, with none of its keys (leases, worker registry, queues)
    own_redis.start()

    # Then calls work again, on the same server process (no process was restarted)
    def answers():
        response = call(client, headers, tool.id, "after")
        return response.status_code == 200 and response
    response = wait_for(answers, timeout=15)
    assert response.json["content"][0]["text"] == "after"
    assert Tool.get_by_id(tool.id).pid == pid
    assert all(worker.process.poll() is None for worker in workers)
    # and the front door (a new handshake: the sessions were in the Redis that lost everything)
    assert "after" in wait_for(lambda: (r := proxy_call(proxy, key, "after")).status_code == 200
                               and "result" in r.json() and r, timeout=10).text
    # and lifecycle jobs too (the shared queue's consumer is back; this server's `echo` is named
    # `other__echo` by the front door from now on, so it starts after the front door's check)
    other = make_stdio_tool("other", "legacy_server.py")
    started = client.post(f"/api/v1/tools/{other.id}/start?wait=true", headers=headers)
    assert started.status_code == 200, started.json
    # and the health check is green again
    wait_for(lambda: client.get("/api/v1/system/health").json["status"] == "ok", timeout=10)
    # and the call that was in flight ran once; its task row was written when it ended
    assert calls_file.read_text().splitlines().count("slow") == 1
    wait_for(lambda: [t.status for t in Task.select().where(Task.tool_id == tool.id, Task.kind == "call")
                      if t.args["tool"] == "slow"] == ["succeeded"], timeout=10)


def test_given_two_workers_when_redis_is_down_longer_than_a_lease_then_neither_reaps_the_other(
        make_settings, database, own_persistent_redis, start_workers):
    # Given two workers on a Redis that keeps its data, each owning a running tool
    settings = make_settings(**{**FAULT_SETTINGS, "redis.url": own_persistent_redis.url})
    workers = start_workers(settings, 2)
    jobs = JobClient.from_settings(settings, redis_client(settings))
    tools = []
    for n, worker in enumerate(workers):
        tool = make_stdio_tool(f"echo{n}", "echo_server.py")
        start = Job(kind="start", tool_id=tool.id)
        jobs.submit(start, registry.worker_queue(worker.wait_ready()))
        started = jobs.wait(start.id, 20)
        assert started["status"] == "succeeded", started
        tools.append(Tool.get_by_id(tool.id))
    assert {tool.owner_worker for tool in tools} == {worker.wait_ready() for worker in workers}

    # When Redis is down for longer than a lease lives (every worker's heartbeat key and lease expire)
    own_persistent_redis.stop()
    time.sleep(3 * settings.mcp.worker.lease_ttl_ms / 1000)
    own_persistent_redis.start()

    # Then, once both beat again, each still runs its tool, on the same server process: nobody was reaped
    time.sleep(2 * settings.mcp.worker.lease_ttl_ms / 1000)
    for tool in tools:
        call = jobs.run(Job(kind="call", tool_id=tool.id, args={"tool": "pid", "arguments": {}}), 10)
        assert call["status"] == "succeeded", call
        assert int(call["result"]["content"][0]["text"]) == tool.pid
        row = Tool.get_by_id(tool.id)
        assert row.status == "RUNNING" and row.owner_worker == tool.owner_worker and row.restart_count == 0


@pytest.fixture
def pg_settings(make_settings, postgres_database):
    from tests.conftest import bind_fresh_database
    settings = make_settings(**{**FAULT_SETTINGS, "database.url": postgres_database})
    database = bind_fresh_database(settings)
    yield settings
    database.close()


def test_given_traffic_when_postgresql_drops_every_connection_then_calls_and_records_carry_on(
        pg_settings, postgres_database, terminate_postgres_backends, start_workers, start_proxy):
    # Given a worker, the API and the front door on PostgreSQL, and a tool answering a stream of calls
    start_workers(pg_settings)
    client, headers = rest_operator(pg_settings)
    tool = make_stdio_tool("echo", "echo_server.py")
    assert client.post(f"/api/v1/tools/{tool.id}/start?wait=true", headers=headers).status_code == 200
    proxy = start_proxy(pg_settings)
    key = client.post("/api/v1/auth/api-keys", headers=headers, json={"name": "laptop"}).json["key"]
    assert "before" in wait_for(lambda: (r := proxy_call(proxy, key, "before")).status_code == 200
                                and "result" in r.json() and r, timeout=10).text
    statuses = []
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            statuses.append(call(client, headers, tool.id, f"n{n}").status_code)
            n += 1
            time.sleep(0.02)
    caller = threading.Thread(target=traffic)
    caller.start()
    try:
        wait_for(lambda: len(statuses) >= 20, timeout=10)

        # When every connection to the database is terminated, twice, mid-traffic
        assert terminate_postgres_backends(postgres_database) >= 1
        time.sleep(0.5)
        terminate_postgres_backends(postgres_database)
        seen = len(statuses)
        wait_for(lambda: len(statuses) >= seen + 20, timeout=10)
    finally:
        stop.set()
        caller.join(10)

    # Then at most a few calls fail, and those with a 503 (retry later), never a 500
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(503) <= 4, statuses
    assert statuses[-10:] == [200] * 10
    # and every answered call is recorded: task rows and call history
    answered = statuses.count(200)
    def traffic_calls(arguments) -> int:  # (not the front door's)
        return sum(1 for args in arguments if args["text"].startswith("n"))
    wait_for(lambda: traffic_calls(t.args["arguments"] for t in Task.select().where(
        Task.tool_id == tool.id, Task.kind == "call", Task.status == "succeeded")) == answered, timeout=20)
    wait_for(lambda: traffic_calls(m.arguments for m in Message.select().where(Message.tool_id == tool.id))
             == answered, timeout=20)
    # and the front door serves new sessions (it authenticates their key in the database)
    answer = proxy_call(proxy, key, "after")
    assert answer.status_code == 200 and "after" in answer.text, answer.text
    # and lifecycle jobs work
    assert client.post(f"/api/v1/tools/{tool.id}/stop?wait=true", headers=headers).status_code == 200
