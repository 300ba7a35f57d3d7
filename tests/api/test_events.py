"""Live events over a real WebSocket and SSE, from a real worker through Redis to a gunicorn process."""
import asyncio
import http.client
import json
import socket
import threading
import time

import httpx2
import websocket


from models import MetricSample
from tests.api.conftest import LOGIN, PASSWORD
from tests.api.e2e import create_tool, start_tool, stdio_body, wait_task
from tests.api.proxies import LEGACY, MODERN, connect, connect_sse, initialize
from tests.harness import wait_for


class SseReader:
    """Reads an SSE stream in a thread: `events` as they arrive, with the time each one did."""

    def __init__(self, port, headers, query=""):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connection.request("GET", f"/api/v1/events{query}", headers=headers)
        self.sock = self.connection.sock
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()
        self.events: list[tuple[float, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        data = None
        try:
            for raw in self.response.fp:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    self.events.append((time.monotonic(), data))
                    data = None
        except (OSError, ValueError):
            pass

    def close(self):
        # Shut the socket down under the reading thread (closing the response would wait for its lock).
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class WsReader:
    """Reads a WebSocket in a thread: `events` as they arrive."""

    def __init__(self, port, headers, query=""):
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/v1/ws{query}",
                                              header=[f"{k}: {v}" for k, v in headers.items()], timeout=30)
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                self.events.append(json.loads(self.ws.recv()))
        except (OSError, ValueError, websocket.WebSocketException):
            pass

    def close(self):
        self.ws.close()


def token_of(client, username):
    return client.post(LOGIN, json={"username": username, "password": PASSWORD}).json["access_token"]


def test_given_ws_and_sse_clients_when_a_tool_starts_then_its_stderr_line_and_status_arrive_within_a_second(
        settings, app, client, admin, worker, start_web, make_user, api_key):
    # Given a gunicorn process, a tool, an admin on a WebSocket and on SSE, and a key scoped to another tool
    web = start_web(settings, threads=16)  # 4 are reserved for management requests
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))
    other = create_tool(client, admin, **stdio_body("other", "echo_server.py"))
    headers = {"Authorization": f"Bearer {token_of(client, 'admin-user')}"}
    ws = websocket.create_connection(f"ws://127.0.0.1:{web.port}/api/v1/ws?kinds=log,tool_status&tools=echo",
                                     header=[f"{k}: {v}" for k, v in headers.items()], timeout=10)
    sse = SseReader(web.port, headers, "?kinds=log,tool_status")
    scoped = SseReader(web.port, {"X-API-Key": api_key("viewer", tool_scope=[other["id"]])})
    time.sleep(0.3)  # both are following the stream

    # When the tool starts (its server writes "echo-server starting" to stderr)
    start_tool(client, admin, tool["id"])
    started_at = time.monotonic()

    # Then the line arrives over the WebSocket and SSE within a second, after the status changes
    received = []
    while not any(e["kind"] == "log" and "echo-server starting" in e["data"]["message"] for e in received):
        received.append(json.loads(ws.recv()))
    assert time.monotonic() - started_at < 1.0
    assert {e["tool_id"] for e in received} == {tool["id"]}
    assert "STARTING" in [e["data"]["status"] for e in received if e["kind"] == "tool_status"]
    line = wait_for(lambda: next((t for t, e in sse.events if e["kind"] == "log"
                                  and "echo-server starting" in e["data"]["message"]), None), timeout=2)
    assert line - started_at < 1.0
    # And the line is in the stored mcp log, by the tool
    stored = wait_for(lambda: client.get("/api/v1/logs/mcp", headers=admin, query_string={
        "tool": "echo", "text": "echo-server starting"}).json["items"], timeout=5)
    assert [(e["kind"], e["tool_id"]) for e in stored] == [("mcp", tool["id"])]
    # And a key scoped to another tool got none of it
    time.sleep(0.3)
    assert [e for _, e in scoped.events if e["tool_id"] == tool["id"]] == []
    ws.close()

    # When an SSE client reconnects with the id of the first event it had
    first, rest = sse.events[0][1], [e for _, e in sse.events[1:]]
    sse.close()
    resumed = SseReader(web.port, {**headers, "Last-Event-ID": first["id"]}, "?kinds=log,tool_status")

    # Then it gets every later event again, none missed, in order
    wait_for(lambda: len(resumed.events) >= len(rest), timeout=5)
    assert [e["id"] for _, e in resumed.events[:len(rest)]] == [e["id"] for e in rest]
    resumed.close()
    scoped.close()


def test_given_no_or_bad_credentials_then_the_websocket_is_refused_before_the_upgrade(settings, app, client,
                                                                                         start_web, viewer):
    web = start_web(settings, threads=16)  # 4 are reserved for management requests
    for url in (f"ws://127.0.0.1:{web.port}/api/v1/ws", f"ws://127.0.0.1:{web.port}/api/v1/ws?access_token=nope"):
        try:
            websocket.create_connection(url, timeout=5)
            raise AssertionError("connected without credentials")
        except websocket.WebSocketBadStatusException as error:
            assert error.status_code == 401
    # A browser's way: the access token in the query
    token = token_of(client, "viewer-user")
    ws = websocket.create_connection(f"ws://127.0.0.1:{web.port}/api/v1/ws?access_token={token}", timeout=5)
    ws.close()
    assert client.get("/api/v1/ws", headers=viewer).status_code == 400  # not an upgrade
    bad = client.get("/api/v1/events?kinds=gossip", headers=viewer)
    assert bad.status_code == 422 and bad.json["code"] == 422


# -- task progress, alerts and front door sessions ---------------------------------------------------

def of_task(events, task_id):
    return [e for e in events if e["kind"] == "task" and e["data"]["id"] == task_id]


def steps(events):
    return [(e["data"]["phase"], e["data"]["status"], e["data"].get("progress"), e["data"].get("total"),
             e["data"].get("message")) for e in events]


def finished(events, task_id):
    return any(e["data"]["phase"] == "finished" for e in of_task(events, task_id))


def test_given_ws_and_sse_clients_when_a_call_reports_progress_then_its_task_events_arrive_in_order(
        settings, client, admin, operator, viewer, echo_tool, start_web):
    # Given a gunicorn process, an operator on a WebSocket and on SSE (tasks of the echo tool), and a viewer
    web = start_web(settings, threads=16)  # 4 are reserved for management requests
    ws = WsReader(web.port, operator, "?kinds=task&tools=echo")
    sse = SseReader(web.port, operator, "?kinds=task")
    watcher = SseReader(web.port, viewer)
    time.sleep(0.3)  # all are following the stream

    # When the operator makes a call whose server reports progress three times
    call = client.post(f"/api/v1/tools/{echo_tool['id']}/call?async=true", headers=operator,
                       json={"tool": "slow", "arguments": {"steps": 3, "delay": 0.05}})
    assert call.status_code == 202, call.json
    task_id = call.json["task_id"]

    # Then both transports deliver its start, each progress and its finish, in order, with who and which tool
    expected = [("started", "running", None, None, None), ("progress", "running", 1, 3, "step 1"),
                ("progress", "running", 2, 3, "step 2"), ("progress", "running", 3, 3, "step 3"),
                ("finished", "succeeded", None, None, None)]
    for events in (lambda: ws.events, lambda: [e for _, e in sse.events]):
        wait_for(lambda: finished(events(), task_id), timeout=10)
        assert steps(of_task(events(), task_id)) == expected
        assert {(e["tool_id"], e["user_id"], e["data"]["kind"]) for e in of_task(events(), task_id)} == {
            (echo_tool["id"], client.get("/api/v1/auth/me", headers=operator).json["id"], "call")}

    # When the operator restarts the tool
    restart = client.post(f"/api/v1/tools/{echo_tool['id']}/restart", headers=operator)
    assert restart.status_code == 202, restart.json
    restart_id = restart.json["task_id"]
    wait_task(client, operator, restart_id)

    # Then its steps arrive: stopping, starting, finished
    wait_for(lambda: finished(ws.events, restart_id), timeout=10)
    assert steps(of_task(ws.events, restart_id)) == [
        ("started", "running", 0, 2, "stopping echo"), ("progress", "running", 1, 2, "starting echo"),
        ("finished", "succeeded", None, None, None)]

    # And a viewer saw none of the operator's tasks
    time.sleep(0.3)
    assert [e for _, e in watcher.events if e["kind"] == "task"] == []

    # When a WebSocket reconnects with the id of the call's first event
    first = of_task(ws.events, task_id)[0]
    rest = [e["id"] for e in ws.events[ws.events.index(first) + 1:]]
    ws.close()
    resumed = WsReader(web.port, operator, f"?kinds=task&tools=echo&last_event_id={first['id']}")

    # Then it gets every later event again, none missed, in order
    wait_for(lambda: len(resumed.events) >= len(rest), timeout=5)
    assert [e["id"] for e in resumed.events[:len(rest)]] == rest
    for reader in (resumed, sse, watcher):
        reader.close()


def test_given_a_rule_when_it_fires_is_acknowledged_and_resolves_then_operators_see_alert_events(
        settings, client, admin, operator, viewer, worker, run_job, start_web):
    # Given a rule any host sample breaches, a sample, and an admin (WS), an operator and a viewer (SSE)
    web = start_web(settings, threads=16)  # 4 are reserved for management requests
    rule = client.post("/api/v1/monitoring/alert-rules", headers=admin, json={
        "name": "hot", "metric": "host.cpu_percent", "operator": ">=", "threshold": 10, "severity": "critical"})
    assert rule.status_code == 201, rule.json
    MetricSample.create(source="host", data={"host": "h1", "cpu_percent": 50.0})
    ws = WsReader(web.port, admin, "?kinds=alert")
    sse = SseReader(web.port, operator, "?kinds=alert,log")
    watcher = SseReader(web.port, viewer)
    time.sleep(0.3)

    # When the worker evaluates the rules
    assert run_job("alert_evaluate")["status"] == "succeeded"

    # Then the alert's firing arrives on both transports
    def alert_events(events, name):
        return [e for e in events if e["kind"] == "alert" and e["data"]["rule"] == "hot" and e["data"]["event"] == name]
    fired = wait_for(lambda: alert_events(ws.events, "fired"), timeout=5)[0]
    assert (fired["data"]["subject"], fired["data"]["severity"], fired["data"]["status"]) == (
        "host:h1", "critical", "firing")
    assert wait_for(lambda: alert_events([e for _, e in sse.events], "fired"), timeout=5)[0]["id"] == fired["id"]

    # When the operator acknowledges it, and the rule no longer holds
    alert_id = fired["data"]["id"]
    assert client.post(f"/api/v1/monitoring/alerts/{alert_id}/acknowledge", headers=operator).status_code == 200
    client.patch(f"/api/v1/monitoring/alert-rules/{rule.json['id']}", headers=admin, json={"threshold": 1000})
    assert run_job("alert_evaluate")["status"] == "succeeded"

    # Then acknowledged, then resolved, arrive in that order
    wait_for(lambda: alert_events(ws.events, "resolved"), timeout=5)
    assert [(e["data"]["event"], e["data"]["id"]) for e in ws.events if e["data"]["rule"] == "hot"] == [
        ("fired", alert_id), ("acknowledged", alert_id), ("resolved", alert_id)]
    wait_for(lambda: alert_events([e for _, e in sse.events], "resolved"), timeout=5)
    # And the viewer saw no alert
    assert [e for _, e in watcher.events if e["kind"] == "alert"] == []
    for reader in (ws, sse, watcher):
        reader.close()


def test_given_front_door_sessions_when_they_open_and_close_then_their_owner_and_admins_see_them(
        settings, client, admin, start_web, start_proxy, make_api_key):
    # Given a front door, an operator's API key, an admin (WS), the operator (SSE, by the key) and a viewer
    web = start_web(settings, threads=16)  # 4 are reserved for management requests
    proxy = start_proxy()
    owner, key = make_api_key("operator")
    _, viewer_key = make_api_key("viewer")
    ws = WsReader(web.port, admin, "?kinds=proxy")
    mine = SseReader(web.port, {"X-API-Key": key}, "?kinds=proxy")
    others = SseReader(web.port, {"X-API-Key": viewer_key})
    time.sleep(0.3)

    # When the operator's client opens a handshake session and ends it (streamable HTTP)
    session_id = initialize(proxy.url, key)
    ended = httpx2.delete(proxy.url, headers={"Authorization": f"Bearer {key}", "Mcp-Session-Id": session_id})
    assert ended.status_code == 200

    # And a legacy client connects over /sse and leaves, and a 2026-07-28 client listens and leaves
    async def legacy_and_modern():
        async with connect_sse(f"{proxy.base}/sse", key) as legacy:
            await legacy.list_tools()
        async with connect(proxy.url, key) as modern:
            async with modern.listen(tools_list_changed=True):
                await asyncio.sleep(0.3)
    asyncio.run(legacy_and_modern())

    # Then the admin and the owner see each opening and closing with who, the client and the transport
    def sessions(events):
        return [(e["data"]["event"], e["data"]["transport"], e["data"]["era"]) for e in events
                if e["kind"] == "proxy" and e["user_id"] == owner.id and e["data"]["era"] == "handshake"]
    expected = [("opened", "streamable_http", "handshake"), ("closed", "streamable_http", "handshake"),
                ("opened", "sse", "handshake"), ("closed", "sse", "handshake")]
    for events in (lambda: ws.events, lambda: [e for _, e in mine.events]):
        wait_for(lambda: sessions(events()) == expected, timeout=10)
        opened = next(e for e in events() if e["kind"] == "proxy" and e["data"]["session"] == session_id)
        assert opened["data"]["client"] == {"name": "test", "version": "1"}
        assert opened["data"]["protocol_version"] == LEGACY and opened["data"]["api_key_id"] is not None
    # And the 2026-07-28 client's one lasting connection, its listen stream, is told opened and closed
    wait_for(lambda: [(e["data"]["event"], e["data"]["protocol_version"]) for e in ws.events
                      if e["kind"] == "proxy" and e["data"]["era"] == MODERN] == [("opened", MODERN), ("closed", MODERN)],
             timeout=10)
    # And a viewer saw nobody's sessions
    time.sleep(0.3)
    assert [e for _, e in others.events if e["kind"] == "proxy"] == []
    for reader in (ws, mine, others):
        reader.close()
