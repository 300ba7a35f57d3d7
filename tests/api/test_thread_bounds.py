"""More slow sync calls than the API has threads: health and management keep answering, the calls over
the bound become tasks (202), event streams are bounded per user (429)."""
from __future__ import annotations

import http.client
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from api import create_app
from api.users.accounts import create_user
from tests.harness import SERVERS

PASSWORD = "correct-horse-battery"
THREADS, RESERVED = 4, 2


def request(web, method, path, body=None, token=None, timeout=30.0):
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=timeout)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    started = time.monotonic()
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    payload = json.loads(response.read() or b"null")
    connection.close()
    return response.status, payload, time.monotonic() - started


@pytest.fixture
def web_with_hanging_tool(settings, database, start_worker, start_web):
    with create_app(settings).app_context():
        create_user("root", PASSWORD, role="admin")
    start_worker()
    web = start_web(settings, threads=THREADS, extra_env={"MCPS_SERVER__RESERVED_THREADS": str(RESERVED)})
    token = request(web, "POST", "/api/v1/auth/login", {"username": "root", "password": PASSWORD})[1]["access_token"]
    created = request(web, "POST", "/api/v1/tools", {"name": "echo", "transport": "stdio", "command": sys.executable,
                                                     "args": [str(SERVERS / "echo_server.py")]}, token)
    assert created[0] == 201, created
    assert request(web, "POST", "/api/v1/tools/echo/start?wait=true", token=token)[0] == 200
    return web, token


def test_given_more_slow_sync_calls_than_threads_then_health_and_management_answer_and_the_rest_become_tasks(
        web_with_hanging_tool):
    web, token = web_with_hanging_tool
    hang = {"tool": "hang", "arguments": {}, "timeout": 20}

    # When twice as many hanging sync calls as threads arrive at once
    with ThreadPoolExecutor(THREADS * 2) as pool:
        calls = [pool.submit(request, web, "POST", "/api/v1/tools/echo/call", hang, token) for _ in range(THREADS * 2)]
        time.sleep(1.0)
        health = request(web, "GET", "/api/v1/system/health", timeout=5)
        tools = request(web, "GET", "/api/v1/tools", token=token, timeout=5)
        answered_early = [call.result(timeout=5) for call in calls if call.done()]

        # Then health and management answer at once
        assert health[0] == 200 and health[2] < 1.0
        assert tools[0] == 200 and tools[2] < 1.0
        # and every call beyond the threads lent to waiting came back as a task to follow
        assert len(answered_early) == THREADS * 2 - (THREADS - RESERVED)
        assert {status for status, _, _ in answered_early} == {202}
        for _, body, _ in answered_early:
            request(web, "DELETE", f"/api/v1/tasks/{body['task_id']}", token=token)  # cancel them
        tasks = request(web, "GET", "/api/v1/tasks?status=running", token=token)[1]
        for task in tasks.get("items", tasks if isinstance(tasks, list) else []):
            request(web, "DELETE", f"/api/v1/tasks/{task['id']}", token=token)


def test_given_a_user_with_open_event_streams_when_opening_one_more_then_429(web_with_hanging_tool, settings):
    web, token = web_with_hanging_tool
    started = request(web, "POST", "/api/v1/tools/echo/call?async=true", {"tool": "hang", "arguments": {}}, token)
    task_id = started[1]["task_id"]
    streams = []
    for _ in range(THREADS - RESERVED):
        connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        connection.request("GET", f"/api/v1/tasks/{task_id}/events", headers={"Authorization": f"Bearer {token}"})
        assert connection.getresponse().status == 200
        streams.append(connection)

    refused = request(web, "GET", f"/api/v1/tasks/{task_id}/events", token=token, timeout=5)
    health = request(web, "GET", "/api/v1/system/health", timeout=5)

    assert refused[0] == 429 and refused[1]["errors"]["error_type"] == "rate_limited"
    assert health[0] == 200
    for connection in streams:
        connection.close()
    request(web, "DELETE", f"/api/v1/tasks/{task_id}", token=token)


def test_given_a_call_timeout_beyond_the_configured_cap_then_the_cap_applies(make_settings, start_worker_for):
    settings = make_settings(**{"mcp.jobs.call_timeout_max_s": 1})
    app = create_app(settings)
    with app.app_context():
        create_user("root", PASSWORD, role="admin")
    start_worker_for(settings)
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/tools", headers=auth, json={"name": "echo", "transport": "stdio", "command": sys.executable,
                                                     "args": [str(SERVERS / "echo_server.py")]})
    assert client.post("/api/v1/tools/echo/start?wait=true", headers=auth).status_code == 200

    started = time.monotonic()
    reply = client.post("/api/v1/tools/echo/call", headers=auth, json={"tool": "hang", "arguments": {}, "timeout": 3000})

    assert reply.status_code == 504 and reply.json["errors"]["error_type"] == "timeout"
    assert time.monotonic() - started < 5
