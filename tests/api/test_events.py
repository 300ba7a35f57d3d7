"""Live events over a real WebSocket and SSE, from a real worker through Redis to a gunicorn process."""
import http.client
import json
import socket
import threading
import time

import websocket


from tests.api.conftest import LOGIN, PASSWORD
from tests.api.e2e import create_tool, start_tool, stdio_body
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
