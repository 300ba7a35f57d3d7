"""Fixtures of the API tests: an app per test (SQLite in its data dir, the real Redis under the test's
key namespace), its client and CLI runner, and users of each role with their tokens."""
from __future__ import annotations

import pytest

import api
from api import create_app
from api.users.accounts import create_user
from models import ALL_MODELS
from tests.api.e2e import create_tool, start_tool, stdio_body

PASSWORD = "correct-horse-battery"
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def make_app(make_settings):
    def make(**overrides):
        return create_app(make_settings(**overrides))
    return make


@pytest.fixture
def app(settings, database):
    """The app on the test's settings, so that it and `start_worker()` see the same database and Redis."""
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def with_probe_blueprint(monkeypatch):
    """Apps created in this test also have the probe endpoints of tests/api/probe.py."""
    monkeypatch.setattr(api, "BLUEPRINTS", [*api.BLUEPRINTS, "tests.api.probe:blp"])


@pytest.fixture
def make_user(app):
    def make(username, role="viewer", password=PASSWORD, **fields):
        with app.app_context():
            return create_user(username, password, role=role, **fields)
    return make


@pytest.fixture
def login(client):
    def do(username, password=PASSWORD) -> dict:
        response = client.post(LOGIN, json={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return response.json
    return do


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def headers_for(make_user, login):
    """`headers_for("operator")`: Authorization headers of a (new, then reused) user with that role."""
    created = set()

    def make(role, username=None):
        username = username or f"{role}-user"
        if username not in created:
            make_user(username, role)
            created.add(username)
        return bearer(login(username)["access_token"])
    return make


@pytest.fixture
def postgres_app(make_settings, postgres_database):
    """An app on this run's PostgreSQL database, emptied first (the database is shared by the run)."""
    app = create_app(make_settings(**{"database.url": postgres_database}))
    from models import db
    with db.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    db.close()
    return app


# -- end to end: users of each role, a real worker, running tools (helpers in tests/api/e2e.py) -----

@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


@pytest.fixture
def operator(headers_for):
    return headers_for("operator")


@pytest.fixture
def viewer(headers_for):
    return headers_for("viewer")


@pytest.fixture
def worker(start_worker):
    """One real worker process for the test."""
    return start_worker()


@pytest.fixture
def legacy_tool(client, admin, worker):
    """A running legacy_server.py tool (starts in ~50 ms): MCP tool `echo` only."""
    tool = create_tool(client, admin, **stdio_body("legacy", "legacy_server.py"))
    start_tool(client, admin, tool["id"])
    return tool


@pytest.fixture
def echo_tool(client, admin, worker):
    """A running echo_server.py tool: echo, add, fail, slow, hang, pid, a resource and a prompt."""
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))
    start_tool(client, admin, tool["id"])
    return tool


# -- the MCP front door: real proxy processes and API keys (helpers in tests/api/proxies.py) -----------

@pytest.fixture
def start_proxy(settings, database):
    """start_proxy(**env): a proxy process on the test's settings (env: MCPS_* overrides), stopped after."""
    from tests.api.proxies import ProxyProcess

    proxies = []

    def start(**extra_env):
        proxies.append(ProxyProcess(settings, extra_env))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def api_key(client, headers_for):
    """api_key(role="operator", **body): a raw API key of a user of that role, made through the API."""
    def make(role="operator", **body) -> str:
        response = client.post("/api/v1/auth/api-keys", headers=headers_for(role), json={"name": "client", **body})
        assert response.status_code == 201, response.json
        return response.json["key"]
    return make


@pytest.fixture
def make_api_key(settings, database):
    """make_api_key(role, tool_scope=None): (user, raw API key) of a new user of that role."""
    from api.auth.apikeys import create_api_key
    from policy import access

    app = create_app(settings)
    made = iter(range(1000))

    def make(role: str = "operator", tool_scope: list[str] | None = None):
        with app.app_context():
            user = create_user(f"mcp-{role}-{next(made)}", PASSWORD, role=role)
            scope = access.resolve_tool_refs(tool_scope) if tool_scope is not None else None
            return user, create_api_key(user, "cursor", tool_scope=scope)[1]
    return make


@pytest.fixture
def serve_tool(start_worker, run_job):
    """serve_tool(name, script=None, command=None, args=None): a stdio tool started by the test's real
    worker (one worker, started with the first tool), once its row says RUNNING with its lists."""
    import sys

    from models import Tool
    from tests.harness import SERVERS, wait_for

    workers = []

    def serve(name: str, script: str | None = None, command: str | None = None, args: list[str] | None = None):
        if not workers:
            workers.append(start_worker())
        if script is not None:
            command, args = sys.executable, [str(SERVERS / script)]
        tool = Tool.create(name=name, transport="stdio", command=command or sys.executable, args=args or [])
        event = run_job("start", tool.id)
        assert event["status"] == "succeeded", event
        return wait_for(lambda: (row := Tool.get_by_id(tool.id)).status == "RUNNING" and row.mcp_tools and row)
    return serve
