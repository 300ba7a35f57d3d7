"""Every error is JSON in one shape: {code, status, message, errors?} — never an HTML page."""
import logging

import pytest

ERROR_KEYS = {"code", "status", "message"}


def assert_error(response, code):
    assert response.status_code == code, response.data
    assert response.mimetype == "application/json"
    body = response.json
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"errors"}
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/nothing", "/api/v1/users/not-a-number"])
def test_given_an_unknown_route_when_requested_then_404_json(client, path):
    body = assert_error(client.get(path), 404)
    assert body["status"] == "Not Found"


def test_given_a_route_when_called_with_another_method_then_405_json_with_allow(client):
    response = client.delete("/api/v1/auth/login")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


def test_given_malformed_json_when_posted_then_400_json(client):
    response = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    body = assert_error(response, 400)
    assert body["errors"] == {"json": ["Invalid JSON body."]}


def test_given_a_body_missing_fields_when_posted_then_422_with_field_errors(client):
    body = assert_error(client.post("/api/v1/auth/login", json={"username": "ann"}), 422)
    assert body["errors"]["json"]["password"] == ["Missing data for required field."]


def test_given_unknown_fields_when_posted_then_422(client):
    body = assert_error(client.post("/api/v1/auth/login", json={"username": "a", "password": "b", "x": 1}), 422)
    assert "x" in body["errors"]["json"]


def test_given_a_bad_query_arg_when_listing_then_422_names_the_arg(client, headers_for):
    body = assert_error(client.get("/api/v1/users?page_size=1000", headers=headers_for("admin")), 422)
    assert "page_size" in body["errors"]["query"]


def test_given_a_view_that_crashes_when_called_then_500_generic_json_and_logged(
        with_probe_blueprint, make_app, caplog):
    client = make_app().test_client()
    with caplog.at_level(logging.ERROR, logger="mcps.api"):
        response = client.get("/api/v1/probe/boom")
    body = assert_error(response, 500)
    assert body["message"] == "internal server error"
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert any("secret internal detail" in (record.exc_text or "") or record.exc_info for record in caplog.records)


# -- findings of the OpenAPI fuzz run (tests/api/test_fuzz_openapi.py), each a 5xx before ------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/tools/%C2%B2/resources"),   # '²'.isdigit() is true, int('²') fails
    ("DELETE", "/api/v1/tools/1%C2%B2"),
    ("DELETE", "/api/v1/users/32589158477190044730"),  # past 64 bits
    ("DELETE", "/api/v1/sessions/272489944208631966040728797184"),
])
def test_given_a_unicode_digit_or_an_id_past_64_bits_then_404_json(client, headers_for, method, path):
    assert_error(client.open(path, method=method, headers=headers_for("admin")), 404)


@pytest.mark.parametrize("path, body", [
    ("/api/v1/tasks", {"name": "w", "definition": {"steps": [5]}}),
    ("/api/v1/tasks", {"name": "w", "definition": {"steps": [{"parallel": [2.5, "x"]}]}}),
    ("/api/v1/mcp/agent/execute", {"steps": [7]}),
])
def test_given_workflow_steps_that_are_not_objects_then_422_naming_the_step(client, headers_for, path, body):
    body = assert_error(client.post(path, headers=headers_for("operator"), json=body), 422)
    assert "must be an object" in body["message"] and "steps.0" in body["message"]


def test_given_a_url_python_cannot_parse_when_defining_a_tool_then_422(client, headers_for):
    response = client.post("/api/v1/tools", headers=headers_for("admin"),
                           json={"name": "web", "transport": "streamable_http", "url": "http://["})

    assert "url" in assert_error(response, 422)["errors"]["json"]


def test_given_no_live_worker_when_restarting_the_workers_then_409_not_a_server_error(client, headers_for):
    body = assert_error(client.post("/api/v1/system/restart", headers=headers_for("admin")), 409)
    assert "no live worker" in body["message"]


def test_given_an_invalid_body_then_the_message_names_the_first_problem(client, headers_for):
    response = client.post("/api/v1/tools", headers=headers_for("admin"),
                           json={"name": "Not A Slug", "transport": "stdio", "command": "uvx"})

    assert assert_error(response, 422)["message"].startswith("the request is not valid: json.name: must be a slug")


# -- oversized requests through the real server (gunicorn, as in the Procfile) ----------------------------

def raw_request(port: int, request: bytes) -> tuple[int, dict]:
    """Send raw bytes (no client library that would refuse them first); (status, JSON body)."""
    import json
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


@pytest.fixture
def web(settings, database, start_web):
    return start_web(settings, threads=2)


@pytest.mark.parametrize("request_bytes, code", [
    (b"GET /api/v1/system/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
    (b"GET /api/v1/system/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(150)) + b"\r\n", 431),
    (b"GET /api/v1/system/health?q=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
     + b"{" * 1000, 413),
])
def test_given_an_oversized_request_line_header_or_body_then_gunicorn_or_the_app_refuse_it_in_the_one_shape(
        web, request_bytes, code):
    status, body = raw_request(web.port, request_bytes)

    assert status == code and body["code"] == code and body["message"]
    assert raw_request(web.port, b"GET /api/v1/system/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] in (200, 503)


# -- path traversal: file names from the URL never leave the backup directory ----------------------------

TRAVERSALS = ["..", "../mcps.db", "..%2Fmcps.db", "%2E%2E%2Fmcps.db", "..%5Cmcps.db", "%2Fetc%2Fpasswd",
              "..%252F..%252Fetc%252Fpasswd", "....%2F%2Fmcps.db", "mcps-20260101T000000Z-abcdef.sqlite3%00.txt",
              "mcps-20260101T000000Z-abcdef.sqlite3%2F..%2F..%2Fmcps.db", "%C0%AE%C0%AE%2Fmcps.db",
              "~%2F.ssh%2Fid_rsa", "mcps-20260101T000000Z-abcdef.sqlite3.%2E"]


@pytest.fixture
def backup_file(settings):
    """A real backup file (by its name pattern) in the backup directory, and a secret file beside it."""
    from pathlib import Path

    from models.backups import backup_dir

    directory = backup_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "mcps-20260101T000000Z-abcdef.sqlite3").write_bytes(b"backup bytes")
    secret = Path(settings.app.data_dir) / "secret.txt"
    secret.write_text("top secret")
    return directory / "mcps-20260101T000000Z-abcdef.sqlite3", secret


@pytest.mark.parametrize("name", TRAVERSALS)
def test_given_a_traversing_backup_name_then_download_delete_and_restore_are_404_and_nothing_moves(
        client, headers_for, backup_file, name):
    admin = headers_for("admin")
    backup, secret = backup_file
    base = "/api/v1/system/backups/"

    for method, path in (("GET", base + name), ("DELETE", base + name), ("POST", base + name + "/restore")):
        response = client.open(path, method=method, headers=admin)
        assert response.status_code in (404, 405), (method, path, response.status_code)
        assert response.mimetype == "application/json"
        assert b"top secret" not in response.data and b"SQLite format" not in response.data
    assert backup.exists() and secret.read_text() == "top secret"
    assert client.get(base + backup.name, headers=admin).data == b"backup bytes"  # the real one still works


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../etc/passwd", "..\\..\\secret.txt"])
def test_given_a_traversing_value_in_any_log_export_filter_then_no_file_is_read(client, headers_for, backup_file, name):
    for param in ("source", "tool", "text", "q", "task_id", "format"):
        response = client.get("/api/v1/logs/export", query_string={param: name}, headers=headers_for("admin"))
        assert response.status_code in (200, 422), (param, response.status_code)
        assert b"root:" not in response.data and b"top secret" not in response.data


@pytest.mark.parametrize("path, body", [
    ("/api/v1/tools", {"name": "clock\n", "transport": "stdio", "command": "uvx"}),  # `$` matched before "\n"
    ("/api/v1/users", {"username": "mallory\n", "role": "viewer"}),
    ("/api/v1/tools", {"name": "web", "transport": "sse", "url": "http://example.com\n"}),
])
def test_given_a_value_with_a_trailing_newline_then_a_pattern_refuses_it_as_the_document_does(client, headers_for, path, body):
    assert_error(client.post(path, headers=headers_for("admin"), json=body), 422)
