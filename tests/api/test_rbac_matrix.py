"""The access matrix: EVERY route of the app (its url_map, cross-checked with the OpenAPI document) and
the MCP front door, each with the least role that may use it, swept as anonymous / viewer / operator /
admin / an unscoped API key / a key scoped to another tool.

An endpoint added without an entry in ACCESS fails `test_every_route_has_an_entry`: decide who may use it
and write it down here. Expected: 401 anonymous (in the one error shape) except PUBLIC; 403 below the
role; never 401/403 from the role up; never a 5xx; and the security headers on every answer.
(test_rbac.py holds the sweeps by API key role and scope in depth; this file is the table.)
"""
from __future__ import annotations

import json

import pytest

from models import Tool
from tests.api.conftest import bearer
import httpx2

from tests.api.proxies import LEGACY, initialize, post
from tests.api.test_rbac import VALID_BODIES, api_endpoints, call, create_key
from tests.api.test_security_headers import EXPECTED as SECURITY_HEADERS

PUBLIC, ANY_USER, VIEWER, OPERATOR, ADMIN, REFRESH_TOKEN = "public", "any", "viewer", "operator", "admin", "refresh"
RANK = {ANY_USER: 1, VIEWER: 1, OPERATOR: 2, ADMIN: 3}
JWT = "jwt only"  # a user's login, never an API key (credentials and users)

# (method, rule) -> (the least role, JWT when API keys are refused)
ACCESS: dict[tuple[str, str], tuple[str, str | None]] = {
    # -- not under /api/v1: the docs, the spec, Prometheus
    ("GET", "/docs"): (PUBLIC, None),
    ("GET", "/redoc"): (PUBLIC, None),
    ("GET", "/openapi.json"): (PUBLIC, None),
    ("GET", "/docs/assets/swagger-ui/<path:filename>"): (PUBLIC, None),
    ("GET", "/docs/assets/redoc/<path:filename>"): (PUBLIC, None),
    ("GET", "/docs/assets/docs/<path:filename>"): (PUBLIC, None),
    ("GET", "/metrics"): (ADMIN, None),  # or a scraper with monitoring.metrics_token
    # -- auth: your own account
    ("POST", "/api/v1/auth/login"): (PUBLIC, None),
    ("POST", "/api/v1/auth/refresh"): (REFRESH_TOKEN, JWT),
    ("POST", "/api/v1/auth/logout"): (ANY_USER, JWT),
    ("GET", "/api/v1/auth/me"): (ANY_USER, None),
    ("POST", "/api/v1/auth/change-password"): (ANY_USER, JWT),
    ("GET", "/api/v1/auth/api-keys"): (ANY_USER, None),
    ("POST", "/api/v1/auth/api-keys"): (ANY_USER, JWT),
    ("DELETE", "/api/v1/auth/api-keys/<id:key_id>"): (ANY_USER, JWT),
    ("POST", "/api/v1/auth/register"): (ADMIN, JWT),  # while security.allow_registration is off
    # -- users
    ("GET", "/api/v1/users"): (ADMIN, JWT),
    ("POST", "/api/v1/users"): (ADMIN, JWT),
    ("GET", "/api/v1/users/<id:user_id>"): (ADMIN, JWT),
    ("PUT", "/api/v1/users/<id:user_id>"): (ADMIN, JWT),
    ("DELETE", "/api/v1/users/<id:user_id>"): (ADMIN, JWT),
    ("POST", "/api/v1/users/<id:user_id>/reset-password"): (ADMIN, JWT),
    # -- tools: admins define what runs, operators run it, viewers read
    ("GET", "/api/v1/tools"): (VIEWER, None),
    ("POST", "/api/v1/tools"): (ADMIN, None),
    ("GET", "/api/v1/tools/available"): (VIEWER, None),
    ("GET", "/api/v1/tools/export"): (ADMIN, None),
    ("POST", "/api/v1/tools/import"): (ADMIN, None),
    ("GET", "/api/v1/tools/<tool_ref>"): (VIEWER, None),
    ("PUT", "/api/v1/tools/<tool_ref>"): (OPERATOR, None),  # description fields; what runs: admins (below)
    ("DELETE", "/api/v1/tools/<tool_ref>"): (ADMIN, None),
    ("POST", "/api/v1/tools/<tool_ref>/start"): (OPERATOR, None),
    ("POST", "/api/v1/tools/<tool_ref>/stop"): (OPERATOR, None),
    ("POST", "/api/v1/tools/<tool_ref>/restart"): (OPERATOR, None),
    ("GET", "/api/v1/tools/<tool_ref>/status"): (VIEWER, None),
    ("GET", "/api/v1/tools/<tool_ref>/logs"): (VIEWER, None),
    ("GET", "/api/v1/tools/<tool_ref>/capabilities"): (VIEWER, None),
    ("POST", "/api/v1/tools/<tool_ref>/call"): (OPERATOR, None),
    ("POST", "/api/v1/tools/<tool_ref>/complete"): (OPERATOR, None),
    ("GET", "/api/v1/tools/<tool_ref>/prompts"): (VIEWER, None),
    ("POST", "/api/v1/tools/<tool_ref>/prompts/get"): (OPERATOR, None),
    ("GET", "/api/v1/tools/<tool_ref>/resources"): (VIEWER, None),
    ("GET", "/api/v1/tools/<tool_ref>/resources/templates"): (VIEWER, None),
    ("POST", "/api/v1/tools/<tool_ref>/resources/read"): (OPERATOR, None),
    # -- aggregated calls (the seed's paths)
    ("GET", "/api/v1/mcp/agent/tools"): (VIEWER, None),
    ("POST", "/api/v1/mcp/agent/execute"): (OPERATOR, None),
    ("GET", "/api/v1/mcp/http/tools"): (VIEWER, None),
    ("POST", "/api/v1/mcp/http/call"): (OPERATOR, None),
    ("POST", "/api/v1/mcp/unified/call"): (OPERATOR, None),
    # -- the front door's management
    ("GET", "/api/v1/mcp/proxy/status"): (VIEWER, None),
    ("POST", "/api/v1/mcp/proxy/start"): (ADMIN, None),
    ("POST", "/api/v1/mcp/proxy/stop"): (ADMIN, None),
    ("GET", "/api/v1/proxy/status"): (VIEWER, None),
    ("POST", "/api/v1/proxy/start"): (ADMIN, None),
    ("POST", "/api/v1/proxy/stop"): (ADMIN, None),
    ("GET", "/api/v1/proxy/config"): (ADMIN, None),
    ("PUT", "/api/v1/proxy/config"): (ADMIN, None),
    ("GET", "/api/v1/proxy/servers"): (ADMIN, None),
    ("POST", "/api/v1/proxy/servers"): (ADMIN, None),
    ("GET", "/api/v1/proxy/servers/<name>"): (ADMIN, None),
    ("PUT", "/api/v1/proxy/servers/<name>"): (ADMIN, None),
    ("DELETE", "/api/v1/proxy/servers/<name>"): (ADMIN, None),
    # -- sessions (call history): your own; tasks and workflows
    ("GET", "/api/v1/sessions"): (VIEWER, None),
    ("POST", "/api/v1/sessions"): (OPERATOR, None),
    ("POST", "/api/v1/sessions/auto"): (OPERATOR, None),
    ("GET", "/api/v1/sessions/<id:session_id>"): (VIEWER, None),
    ("PUT", "/api/v1/sessions/<id:session_id>"): (OPERATOR, None),
    ("DELETE", "/api/v1/sessions/<id:session_id>"): (OPERATOR, None),
    ("GET", "/api/v1/sessions/<id:session_id>/messages"): (VIEWER, None),
    ("GET", "/api/v1/tasks"): (VIEWER, None),
    ("POST", "/api/v1/tasks"): (OPERATOR, None),
    ("GET", "/api/v1/tasks/<task_id>"): (VIEWER, None),
    ("PUT", "/api/v1/tasks/<task_id>"): (OPERATOR, None),
    ("DELETE", "/api/v1/tasks/<task_id>"): (OPERATOR, None),
    ("POST", "/api/v1/tasks/<task_id>/start"): (OPERATOR, None),
    ("POST", "/api/v1/tasks/<task_id>/stop"): (OPERATOR, None),
    ("POST", "/api/v1/tasks/<task_id>/cancel"): (OPERATOR, None),
    ("POST", "/api/v1/tasks/<task_id>/input"): (OPERATOR, None),
    ("GET", "/api/v1/tasks/<task_id>/status"): (VIEWER, None),
    ("GET", "/api/v1/tasks/<task_id>/events"): (VIEWER, None),
    # -- the platform
    ("GET", "/api/v1/system/health"): (PUBLIC, None),
    ("GET", "/api/v1/system/info"): (VIEWER, None),
    ("GET", "/api/v1/system/status"): (VIEWER, None),
    ("GET", "/api/v1/system/metrics"): (VIEWER, None),
    ("GET", "/api/v1/system/processes"): (OPERATOR, None),
    ("GET", "/api/v1/system/schedules"): (OPERATOR, None),
    ("POST", "/api/v1/system/schedules/<name>/run"): (ADMIN, None),
    ("GET", "/api/v1/system/config"): (ADMIN, None),
    ("PUT", "/api/v1/system/config"): (ADMIN, None),
    ("PATCH", "/api/v1/system/config"): (ADMIN, None),
    ("POST", "/api/v1/system/restart"): (ADMIN, None),
    ("GET", "/api/v1/system/backups"): (ADMIN, None),
    ("POST", "/api/v1/system/backups"): (ADMIN, None),
    ("GET", "/api/v1/system/backups/<name>"): (ADMIN, None),
    ("DELETE", "/api/v1/system/backups/<name>"): (ADMIN, None),
    ("POST", "/api/v1/system/backups/<name>/restore"): (ADMIN, None),
    # -- logs: what you may see (the audit trail: admins)
    ("GET", "/api/v1/logs"): (VIEWER, None),
    ("GET", "/api/v1/logs/<id:log_id>"): (VIEWER, None),
    ("DELETE", "/api/v1/logs/<id:log_id>"): (ADMIN, None),
    ("POST", "/api/v1/logs/clear"): (ADMIN, None),
    ("DELETE", "/api/v1/logs/cleanup"): (ADMIN, None),
    ("GET", "/api/v1/logs/system"): (VIEWER, None),
    ("GET", "/api/v1/logs/operations"): (ADMIN, None),
    ("GET", "/api/v1/logs/mcp"): (VIEWER, None),
    ("GET", "/api/v1/logs/stats"): (VIEWER, None),
    ("GET", "/api/v1/logs/search"): (VIEWER, None),
    ("GET", "/api/v1/logs/export"): (VIEWER, None),
    # -- monitoring and alerting
    ("GET", "/api/v1/monitoring/metrics"): (VIEWER, None),
    ("GET", "/api/v1/monitoring/dashboard"): (VIEWER, None),
    ("GET", "/api/v1/monitoring/alerts"): (VIEWER, None),
    ("POST", "/api/v1/monitoring/alerts"): (OPERATOR, None),
    ("GET", "/api/v1/monitoring/alerts/<id:alert_id>"): (VIEWER, None),
    ("POST", "/api/v1/monitoring/alerts/<id:alert_id>/acknowledge"): (OPERATOR, None),
    ("POST", "/api/v1/monitoring/alerts/<id:alert_id>/resolve"): (OPERATOR, None),
    ("GET", "/api/v1/monitoring/alerts/<id:alert_id>/deliveries"): (ADMIN, None),
    ("GET", "/api/v1/monitoring/alert-rules"): (VIEWER, None),
    ("POST", "/api/v1/monitoring/alert-rules"): (ADMIN, None),
    ("GET", "/api/v1/monitoring/alert-rules/<id:rule_id>"): (VIEWER, None),
    ("PATCH", "/api/v1/monitoring/alert-rules/<id:rule_id>"): (ADMIN, None),
    ("DELETE", "/api/v1/monitoring/alert-rules/<id:rule_id>"): (ADMIN, None),
    ("GET", "/api/v1/monitoring/webhooks"): (ADMIN, None),
    ("POST", "/api/v1/monitoring/webhooks"): (ADMIN, None),
    ("GET", "/api/v1/monitoring/webhooks/<id:webhook_id>"): (ADMIN, None),
    ("PATCH", "/api/v1/monitoring/webhooks/<id:webhook_id>"): (ADMIN, None),
    ("DELETE", "/api/v1/monitoring/webhooks/<id:webhook_id>"): (ADMIN, None),
    # -- live events (SSE, WebSocket: a plain GET without the upgrade is a 400 once authenticated)
    ("GET", "/api/v1/events"): (VIEWER, None),
    ("GET", "/api/v1/ws"): (VIEWER, None),
}
# 5xx that are not crashes: a restart with no live worker to restart (this sweep runs none) is a 503.
NO_WORKER_503 = {("POST", "/api/v1/system/restart")}


def all_routes(app):
    """(method, rule, concrete url) of every route of the app: /api/v1 as test_rbac builds them, and the rest."""
    yield from api_endpoints(app)
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("console."):
            continue
        values = {name: "swagger-ui.css" if "swagger" in rule.rule else "redoc.standalone.js" if "redoc" in rule.rule
                  else "swagger-init.js" for name in rule._converters}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, adapter.build(rule.endpoint, values)


@pytest.fixture
def routes(app):
    return list(all_routes(app))


# -- the web console: its pages are HTML read with the session cookie, and all their data comes from the
# REST API above (which decides); a page only says who may open it. (method, rule) -> the least role.
CONSOLE_ACCESS = {
    ("GET", "/console/static/<path:filename>"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/session"): PUBLIC,  # opens a session from a login's token: none -> 401
    ("GET", "/session"): ANY_USER,
    ("DELETE", "/session"): PUBLIC,  # sign-out: without a session there is nothing to clear (204)
    ("GET", "/"): VIEWER,
    ("GET", "/tools"): VIEWER,
    ("GET", "/tools/new"): VIEWER,
    ("GET", "/tools/<tool_ref>"): VIEWER,
    ("GET", "/tools/<int:tool_id>/_capabilities"): VIEWER,
    ("GET", "/tools/<tool_ref>/edit"): VIEWER,
    ("GET", "/tasks"): VIEWER,
    ("GET", "/tasks/_rows"): VIEWER,
    ("GET", "/tasks/<task_id>"): VIEWER,
    ("GET", "/logs"): VIEWER,
    ("GET", "/alerts"): VIEWER,
    ("GET", "/alerts/_rows"): VIEWER,
    ("GET", "/connect"): VIEWER,
    ("GET", "/connect/_keys"): VIEWER,
    ("GET", "/admin"): ADMIN,
    ("GET", "/admin/_users"): ADMIN,
}
CONSOLE_VALUES = {"filename": "css/console.css", "tool_ref": "nonexistent", "tool_id": 999999, "task_id": "nope"}


def console_routes(app):
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console."):
            url = adapter.build(rule.endpoint, {name: CONSOLE_VALUES[name] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.rule, url


def test_every_console_page_has_an_entry_and_anonymous_callers_are_sent_to_sign_in(app, client):
    # Given every route of the console
    routes = list(console_routes(app))
    assert {(method, rule) for method, rule, _url in routes} == set(CONSOLE_ACCESS)

    # When each is asked for without a session, Then only the public ones answer; the others send to /login
    wrong = []
    for method, rule, url in routes:
        status = client.open(url, method=method).status_code
        if CONSOLE_ACCESS[(method, rule)] == PUBLIC:
            if status >= 500 or status == 403:
                wrong.append((method, rule, status))
        elif status not in (302, 401):
            wrong.append((method, rule, status))
    assert wrong == []


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_given_a_console_session_then_each_page_opens_for_its_roles_only(app, client, make_user, login, role):
    # Given a console session of the role
    make_user(f"{role}-c", role)
    assert client.post("/session", headers=bearer(login(f"{role}-c")["access_token"])).status_code == 204
    csrf = {"X-CSRF-TOKEN": client.get_cookie("mcps_csrf").value}

    # When it opens every page (the session's own DELETE last: it ends the session)
    wrong = []
    for method, rule, url in sorted(console_routes(app), key=lambda route: route[0] == "DELETE"):
        if (method, rule) == ("POST", "/session"):
            continue
        response = client.open(url, method=method, headers=csrf)
        needed = CONSOLE_ACCESS[(method, rule)]
        # Then no page fails, a page above the role is refused, and the others open (or say "not found")
        if response.status_code >= 500:
            wrong.append((method, rule, response.status_code))
        elif needed not in (PUBLIC, ANY_USER) and RANK[role] < RANK[needed]:
            if response.status_code != 403:
                wrong.append((method, rule, response.status_code, "should be refused"))
        elif needed != PUBLIC and response.status_code in (302, 401, 403):  # /login sends a session home
            wrong.append((method, rule, response.status_code, "should open"))
    assert wrong == []


def test_every_route_has_an_entry_and_every_entry_a_route(routes):
    found = {(method, rule) for method, rule, _url in routes}

    assert found - set(ACCESS) == set(), "new routes: add them to ACCESS with the least role that may use them"
    assert set(ACCESS) - found == set(), "entries of ACCESS that the app no longer has"


def test_the_openapi_document_names_the_same_operations_and_their_credentials(client):
    # Given every operation of the OpenAPI document
    spec = client.get("/openapi.json").json
    documented = {(method.upper(), path): operation.get("security") for path, item in spec["paths"].items()
                  for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")}
    table = {(method, rule.replace("<id:", "<").replace("<", "{").replace(">", "}")): access
             for (method, rule), access in ACCESS.items() if rule.startswith("/api/v1/")}

    # Then it documents each route of the table, says which need credentials and which take no API key
    assert set(documented) == set(table)
    wrong = []
    for operation, security in documented.items():
        role, jwt_only = table[operation]
        schemes = {name for requirement in security or [{}] for name in requirement}
        if (role == PUBLIC) != (security is None) or (role != PUBLIC and "bearerAuth" not in schemes) or (
                role != PUBLIC and (jwt_only == JWT) == ("apiKeyAuth" in schemes)):
            wrong.append((operation, security))
    assert wrong == []


def expected_status_ok(role_needed: str, caller_rank: int | None, jwt_only: str | None, is_key: bool,
                       status: int) -> bool:
    """Does `status` say what the table says for this caller (rank None: anonymous)?"""
    if role_needed == PUBLIC:
        return status not in (401, 403)
    if caller_rank is None:
        return status == 401
    if role_needed == REFRESH_TOKEN:  # an access token or an API key is not a refresh token
        return status == 401
    if is_key and jwt_only == JWT:
        return status == 403
    if caller_rank < RANK[role_needed]:
        return status == 403
    return status not in (401, 403)


def sweep(client, routes, headers, caller_rank, is_key=False):
    wrong = []
    for method, rule, url in routes:
        role_needed, jwt_only = ACCESS[(method, rule)]
        response = call(client, method, url, headers() if callable(headers) else headers)
        status = response.status_code
        if not expected_status_ok(role_needed, caller_rank, jwt_only, is_key, status):
            wrong.append((method, rule, status))
        elif status >= 500 and not (status == 503 and (method, rule) in NO_WORKER_503):
            wrong.append((method, rule, status, "5xx", response.get_data(as_text=True)[:200]))
        elif status in (401, 403) and response.json.get("code") != status:
            wrong.append((method, rule, status, "not in the one error shape"))
        missing = [name for name, value in SECURITY_HEADERS.items() if response.headers.get(name) != value]
        if missing or "frame-ancestors 'none'" not in response.headers.get("Content-Security-Policy", ""):
            wrong.append((method, rule, "security headers", missing))
    return wrong


def test_given_no_credentials_then_401_everywhere_but_the_public_routes(client, routes):
    assert sweep(client, routes, {}, None) == []


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_given_a_users_login_then_each_route_answers_as_the_table_says(client, routes, make_user, login, role):
    make_user(f"{role}-m", role)
    # a fresh token per request: logout and change-password revoke the one they are called with
    assert sweep(client, routes, lambda: bearer(login(f"{role}-m")["access_token"]), RANK[role]) == []


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_given_an_unscoped_api_key_then_its_users_role_except_credentials_and_users(
        client, routes, make_user, login, role):
    make_user(f"{role}-k", role)
    key = create_key(client, bearer(login(f"{role}-k")["access_token"]))

    assert sweep(client, routes, key, RANK[role], is_key=True) == []


def test_given_a_key_scoped_to_another_tool_then_every_tool_path_of_that_tool_is_404(app, client, routes, make_user,
                                                                                      login):
    # Given an admin's key scoped to `inscope`, and the tool `outside`
    with app.app_context():
        for name in ("inscope", "outside"):
            Tool.create(name=name, transport="stdio", command="uvx")
    make_user("admin-s", "admin")
    scoped = create_key(client, bearer(login("admin-s")["access_token"]), tool_scope=["inscope"])
    wrong = []
    for method, rule, url in routes:
        if "<tool_ref>" not in rule:
            continue
        # When any tool path names `outside` (with a valid body, to get past validation)
        response = call(client, method, url.replace("/nonexistent", "/outside"), scoped, VALID_BODIES.get(rule))
        # Then it does not exist for this key, whatever the path
        if response.status_code != 404 or response.json.get("code") != 404:
            wrong.append((method, rule, response.status_code))
    assert wrong == []


# -- the MCP front door: one real proxy process ------------------------------------------------------

FRONT_DOOR_PATHS = ["/mcp", "/mcp/tools/outside", "/mcp/servers/nothing", "/sse", "/messages"]
LIST = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}


def call_echo(name):
    return {"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": name, "arguments": {}}}


def session_of(url, key) -> dict:
    """The headers of a handshake-era session opened with `key`."""
    return {"Mcp-Session-Id": initialize(url, key), "MCP-Protocol-Version": LEGACY}


@pytest.fixture
def front_door(app, start_proxy):
    with app.app_context():
        for name in ("inscope", "outside"):
            Tool.create(name=name, transport="stdio", command="uvx", status="RUNNING",
                        mcp_tools=[{"name": "echo", "inputSchema": {"type": "object"}}])
    return start_proxy()


def test_given_the_front_door_then_anonymous_and_forged_credentials_get_401_everywhere_with_the_headers(
        front_door):
    wrong = []
    for path in FRONT_DOOR_PATHS:
        for method in ("POST", "GET", "DELETE"):
            for credentials in ({}, {"X-API-Key": "mcps_not-a-key"}, {"Authorization": "Bearer not.a.jwt"}):
                response = httpx2.request(method, front_door.base + path, headers={
                    "Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                    **credentials}, content=json.dumps(LIST) if method == "POST" else None, timeout=10)
                if response.status_code != 401 or "www-authenticate" not in response.headers:
                    wrong.append((method, path, credentials, response.status_code))
                if any(response.headers.get(name) != value for name, value in SECURITY_HEADERS.items()) or (
                        "frame-ancestors 'none'" not in response.headers.get("content-security-policy", "")):
                    wrong.append((method, path, "security headers"))
    assert wrong == []


@pytest.mark.parametrize("role, may_call", [("viewer", False), ("operator", True), ("admin", True)])
def test_given_each_role_at_the_front_door_then_lists_for_all_and_calls_from_operator_up(
        front_door, make_api_key, role, may_call):
    _user, key = make_api_key(role)
    session = session_of(front_door.url, key)

    listed = post(front_door.url, key, LIST, **session)
    called = post(front_door.url, key, call_echo("inscope__missing"), **session)  # no worker: never enqueued

    assert listed.status_code == 200 and {t["name"] for t in listed.json()["result"]["tools"]} == {
        "inscope__echo", "outside__echo"}
    assert called.status_code < 500
    refused = called.status_code == 403 or "requires the operator role" in called.text
    assert refused != may_call, called.text
    assert listed.headers["x-frame-options"] == "DENY"


def test_given_a_key_scoped_to_another_tool_at_the_front_door_then_that_tool_does_not_exist(front_door, make_api_key):
    _user, key = make_api_key("admin", tool_scope=["inscope"])
    session = session_of(front_door.url, key)

    listed = post(front_door.url, key, LIST, **session).json()["result"]["tools"]
    called = post(front_door.url, key, call_echo("outside__echo"), **session)
    own_endpoint = post(f"{front_door.base}/mcp/tools/outside", key, LIST, **session)

    assert [t["name"] for t in listed] == ["echo"]  # one tool left: no prefix needed
    assert "error" in called.json() and own_endpoint.status_code == 404


# -- what runs: only admins set a tool's command, args, env, cwd, URL, headers or transport ------------

WHAT_RUNS = [{"command": "/bin/sh"}, {"args": ["-c", "id"]}, {"env": {"LD_PRELOAD": "/tmp/x.so"}}, {"cwd": "/"},
             {"url": "http://evil.invalid/mcp"}, {"headers": {"X": "y"}}, {"transport": "streamable_http"}]


def test_given_an_operator_or_its_api_key_then_nothing_that_decides_what_runs_can_be_set_anywhere(
        app, client, make_user, login):
    # Given a stdio tool, an operator (login and API key) and an admin
    make_user("olga", "operator")
    make_user("root", "admin")
    operator = bearer(login("olga")["access_token"])
    operator_key = create_key(client, operator)
    admin = bearer(login("root")["access_token"])
    assert client.post("/api/v1/tools", headers=admin, json={
        "name": "t", "transport": "stdio", "command": "uvx", "args": ["mcp-server-time"]}).status_code == 201
    with app.app_context():
        before = Tool.get(Tool.name == "t").__data__.copy()
    document = {"mcpServers": {"t": {"command": "/bin/sh"}, "new": {"command": "/bin/sh", "args": ["-c", "id"]}}}
    wrong = []

    # When each changes what runs, by update, creation and import (replacing), with either credential
    for headers in (operator, operator_key):
        for change in WHAT_RUNS:
            status = client.put("/api/v1/tools/t", headers=headers, json=change).status_code
            if status != 403:
                wrong.append(("PUT", change, status))
        for path, body in (("/api/v1/tools", {"name": "x", "transport": "stdio", "command": "/bin/sh"}),
                           ("/api/v1/tools/import?replace=true", document)):
            status = client.post(path, headers=headers, json=body).status_code
            if status != 403:
                wrong.append(("POST", path, status))

    # Then every attempt is a 403 and nothing changed; an admin may do each
    assert wrong == []
    with app.app_context():
        assert Tool.get(Tool.name == "t").__data__ == before and Tool.select().count() == 1
    assert client.put("/api/v1/tools/t", headers=admin, json={"args": ["mcp-server-git"]}).status_code == 200
    assert client.post("/api/v1/tools/import?replace=true", headers=admin, json=document).status_code in (200, 201)
