"""Access control over EVERY /api/v1 endpoint of the app, including those added after these tests.

A new endpoint is covered automatically: it must answer 401 without credentials, and 403 to a viewer
when it writes, unless it is added to one of the explicit allowlists below. API keys (unscoped and
scoped, of every role) answer as their user's login does, except on JWT_ONLY endpoints (403), and a
scoped key reaches no tool outside its scope on any path: per tool, aggregated, workflows, history.
"""
import pytest

from models import ROLES, Message, Session, Task, Tool

from api.ids import IdConverter

from tests.api.conftest import bearer

PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/system/health"),
}
# Writes a viewer may do on their own account. (refresh takes a refresh token: 401 with an access token.)
SELF_SERVICE = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/change-password"),
    ("POST", "/api/v1/auth/api-keys"),
    ("DELETE", "/api/v1/auth/api-keys/<id:key_id>"),
}
# Reads that need more than the viewer role.
PRIVILEGED_READS = {
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/<id:user_id>"),
    ("GET", "/api/v1/tools/export"),  # can include secrets
    ("GET", "/api/v1/system/schedules"),  # operators
    ("GET", "/api/v1/system/backups"),  # admins: backups hold every secret of the platform
    ("GET", "/api/v1/system/backups/<name>"),
    ("GET", "/api/v1/system/processes"),  # operators: pids and owners
    ("GET", "/api/v1/system/config"),  # admins: the platform's settings
    ("GET", "/api/v1/monitoring/webhooks"),  # admins: alert targets
    ("GET", "/api/v1/monitoring/webhooks/<id:webhook_id>"),
    ("GET", "/api/v1/monitoring/alerts/<id:alert_id>/deliveries"),
    # The MCP front door's config and virtual servers: admins'
    ("GET", "/api/v1/proxy/config"),
    ("GET", "/api/v1/proxy/servers"),
    ("GET", "/api/v1/proxy/servers/<name>"),
    ("GET", "/api/v1/logs/operations"),  # admins: the audit trail
}
# The MCP front door's management endpoints (seed paths under both prefixes) and the role each needs.
PROXY_ENDPOINTS = {
    ("GET", "/api/v1/proxy/status"): "viewer",
    ("GET", "/api/v1/mcp/proxy/status"): "viewer",
    ("POST", "/api/v1/proxy/start"): "admin",
    ("POST", "/api/v1/mcp/proxy/start"): "admin",
    ("POST", "/api/v1/proxy/stop"): "admin",
    ("POST", "/api/v1/mcp/proxy/stop"): "admin",
    ("GET", "/api/v1/proxy/config"): "admin",
    ("PUT", "/api/v1/proxy/config"): "admin",
    ("GET", "/api/v1/proxy/servers"): "admin",
    ("POST", "/api/v1/proxy/servers"): "admin",
    ("GET", "/api/v1/proxy/servers/<name>"): "admin",
    ("PUT", "/api/v1/proxy/servers/<name>"): "admin",
    ("DELETE", "/api/v1/proxy/servers/<name>"): "admin",
}
# Alerts, their rules and targets, run-time settings and restart: the role each needs.
MONITORING_AND_SYSTEM_ENDPOINTS = {
    ("GET", "/api/v1/monitoring/alerts"): "viewer",
    ("POST", "/api/v1/monitoring/alerts"): "operator",
    ("GET", "/api/v1/monitoring/alerts/<id:alert_id>"): "viewer",
    ("POST", "/api/v1/monitoring/alerts/<id:alert_id>/acknowledge"): "operator",
    ("POST", "/api/v1/monitoring/alerts/<id:alert_id>/resolve"): "operator",
    ("GET", "/api/v1/monitoring/alerts/<id:alert_id>/deliveries"): "admin",
    ("GET", "/api/v1/monitoring/alert-rules"): "viewer",
    ("POST", "/api/v1/monitoring/alert-rules"): "admin",
    ("GET", "/api/v1/monitoring/alert-rules/<id:rule_id>"): "viewer",
    ("PATCH", "/api/v1/monitoring/alert-rules/<id:rule_id>"): "admin",
    ("DELETE", "/api/v1/monitoring/alert-rules/<id:rule_id>"): "admin",
    ("GET", "/api/v1/monitoring/webhooks"): "admin",
    ("POST", "/api/v1/monitoring/webhooks"): "admin",
    ("GET", "/api/v1/monitoring/webhooks/<id:webhook_id>"): "admin",
    ("PATCH", "/api/v1/monitoring/webhooks/<id:webhook_id>"): "admin",
    ("DELETE", "/api/v1/monitoring/webhooks/<id:webhook_id>"): "admin",
    ("GET", "/api/v1/system/config"): "admin",
    ("PUT", "/api/v1/system/config"): "admin",
    ("PATCH", "/api/v1/system/config"): "admin",
    ("POST", "/api/v1/system/restart"): "admin",
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Credentials and user management: an API key, even an admin's, must not mint or manage credentials.
JWT_ONLY = SELF_SERVICE | {
    ("POST", "/api/v1/auth/register"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/<id:user_id>"),
    ("PUT", "/api/v1/users/<id:user_id>"),
    ("DELETE", "/api/v1/users/<id:user_id>"),
    ("POST", "/api/v1/users/<id:user_id>/reset-password"),
}


def api_endpoints(app):
    """(method, rule, concrete url) of every /api/v1 route, with placeholders for its arguments."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        values = {name: 999999 if isinstance(converter, IdConverter) else "nonexistent"
                  for name, converter in rule._converters.items()}
        url = adapter.build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, url


def call(client, method, url, headers=None, json=None):
    # Writes carry an empty JSON body: if validation ran before the access check it would answer 422.
    body = {"json": json or {}} if method in WRITES else {}
    return client.open(url, method=method, headers=headers or {}, **body)


# Valid bodies, for the sweeps that must get past validation to the tool lookup.
VALID_BODIES = {
    "/api/v1/tools/<tool_ref>/call": {"tool": "echo"},
    "/api/v1/tools/<tool_ref>/resources/read": {"uri": "file:///x"},
    "/api/v1/tools/<tool_ref>/prompts/get": {"name": "p"},
    "/api/v1/tools/<tool_ref>/complete": {"ref": {"type": "ref/prompt", "name": "p"},
                                          "argument": {"name": "a", "value": ""}},
}


@pytest.fixture
def endpoints(app):
    found = list(api_endpoints(app))
    assert len(found) >= 15
    return found


def test_every_allowlisted_endpoint_exists(endpoints):
    known = {(method, rule) for method, rule, _url in endpoints}
    assert (PUBLIC | SELF_SERVICE | PRIVILEGED_READS | JWT_ONLY) <= known


def test_given_no_credentials_when_calling_any_endpoint_then_401_json_unless_public(client, endpoints):
    wrong = []
    for method, rule, url in endpoints:
        response = call(client, method, url)
        if (method, rule) in PUBLIC:
            if response.status_code in (401, 403):
                wrong.append((method, rule, response.status_code))
        elif response.status_code != 401 or response.json.get("code") != 401:
            wrong.append((method, rule, response.status_code))
    assert wrong == [], "expected 401 without credentials"


def test_given_a_viewer_when_writing_anywhere_then_403_unless_self_service(client, endpoints, make_user, login):
    make_user("vic", "viewer")
    wrong = []
    for method, rule, url in endpoints:
        if method not in WRITES or (method, rule) in PUBLIC:
            continue
        response = call(client, method, url, bearer(login("vic")["access_token"]))  # fresh: logout revokes
        expected_forbidden = (method, rule) not in SELF_SERVICE
        if expected_forbidden != (response.status_code == 403):
            wrong.append((method, rule, response.status_code))
        elif expected_forbidden and response.json.get("code") != 403:
            wrong.append((method, rule, "not JSON"))
    assert wrong == [], "a viewer may only write to its own account"


def test_given_a_viewer_when_reading_then_allowed_except_privileged_reads(client, endpoints, headers_for):
    viewer = headers_for("viewer")
    wrong = []
    for method, rule, url in endpoints:
        if method != "GET":
            continue
        status = call(client, method, url, viewer).status_code
        if ((method, rule) in PRIVILEGED_READS) != (status == 403) or status == 401:
            wrong.append((method, rule, status))
    assert wrong == []


def test_given_an_admin_when_calling_any_endpoint_then_never_401_or_403(client, endpoints, make_user, login):
    make_user("root", "admin")
    wrong = []
    for method, rule, url in endpoints:
        if (method, rule) == ("POST", "/api/v1/auth/refresh"):
            continue  # takes a refresh token
        response = call(client, method, url, bearer(login("root")["access_token"]))
        if response.status_code in (401, 403):
            wrong.append((method, rule, response.status_code, response.json["message"]))
    assert wrong == []


def test_given_each_role_when_calling_the_proxy_management_endpoints_then_only_the_right_role_gets_through(
        client, endpoints, make_user, login):
    # Given a user of each role, and every front door management endpoint the app has
    known = {(method, rule): url for method, rule, url in endpoints}
    assert set(PROXY_ENDPOINTS) <= set(known)
    for role in ROLES:
        make_user(f"{role}-p", role)
    wrong = []
    for (method, rule), needed in PROXY_ENDPOINTS.items():
        for role in ROLES:
            # When the endpoint is called (stop is undone at once: the sweep must not leave it stopped)
            response = call(client, method, known[(method, rule)], bearer(login(f"{role}-p")["access_token"]))
            if rule.endswith("/stop") and response.status_code == 200:
                call(client, "POST", "/api/v1/proxy/start", bearer(login("admin-p")["access_token"]))
            # Then 403 in the one error shape below the role it needs, never 401/403 from it up
            allowed = ROLE_RANK_OF[role] >= ROLE_RANK_OF[needed]
            if allowed == (response.status_code in (401, 403)) or (
                    not allowed and response.json.get("code") != 403):
                wrong.append((method, rule, role, response.status_code))
    assert wrong == [], "(method, rule, role, status)"


ROLE_RANK_OF = {"viewer": 1, "operator": 2, "admin": 3}


def test_given_each_role_when_calling_the_alert_config_and_restart_endpoints_then_only_the_right_role_gets_through(
        client, endpoints, make_user, login):
    # Given a user of each role, and every alerting, run-time config and restart endpoint the app has
    known = {(method, rule): url for method, rule, url in endpoints}
    assert set(MONITORING_AND_SYSTEM_ENDPOINTS) <= set(known)
    for role in ROLES:
        make_user(f"{role}-m", role)
    wrong = []
    for (method, rule), needed in MONITORING_AND_SYSTEM_ENDPOINTS.items():
        for role in ROLES:
            # When the endpoint is called with an empty body
            response = call(client, method, known[(method, rule)], bearer(login(f"{role}-m")["access_token"]))
            # Then 403 in the one error shape below the role it needs; from it up, never 401/403 (and a 4xx
            # that is not about access is in the one error shape too)
            allowed = ROLE_RANK_OF[role] >= ROLE_RANK_OF[needed]
            if allowed == (response.status_code in (401, 403)) or (
                    response.status_code >= 400 and response.json.get("code") != response.status_code):
                wrong.append((method, rule, role, response.status_code))
    assert wrong == [], "(method, rule, role, status)"


def test_given_roles_then_admin_includes_operator_includes_viewer(app):
    from api.auth import ROLE_RANK, has_role
    from models import User

    assert ROLE_RANK["admin"] > ROLE_RANK["operator"] > ROLE_RANK["viewer"]
    assert has_role(User(role="admin"), "operator") and has_role(User(role="operator"), "viewer")
    assert not has_role(User(role="operator"), "admin") and not has_role(User(role="viewer"), "operator")


# -- API keys ---------------------------------------------------------------------------------------

def create_key(client, jwt_headers, **body) -> dict:
    response = client.post("/api/v1/auth/api-keys", headers=jwt_headers, json={"name": "k", **body})
    assert response.status_code == 201, response.json
    return {"X-API-Key": response.json["key"]}


@pytest.fixture
def two_tools(app):
    """`inscope` and `outside`, stopped (a call answers 409 without reaching any worker)."""
    with app.app_context():
        return {name: Tool.create(name=name, transport="stdio", command="uvx").id for name in ("inscope", "outside")}


@pytest.mark.parametrize("role", ROLES)
def test_given_an_unscoped_key_of_each_role_then_it_answers_as_its_users_login_except_credentials(
        client, endpoints, make_user, login, role):
    make_user(f"{role}-k", role)
    key = create_key(client, bearer(login(f"{role}-k")["access_token"]))
    wrong = []
    for method, rule, url in endpoints:
        if (method, rule) in PUBLIC or (method, rule) == ("POST", "/api/v1/auth/refresh"):
            continue
        as_key = call(client, method, url, key).status_code
        if (method, rule) in JWT_ONLY:
            expected = 403
        else:
            expected = call(client, method, url, bearer(login(f"{role}-k")["access_token"])).status_code
        if as_key != expected:
            wrong.append((method, rule, as_key, expected))
    assert wrong == [], "(method, rule, with the key, expected)"


@pytest.mark.parametrize("role", ROLES)
def test_given_a_scoped_key_of_each_role_then_tools_outside_its_scope_do_not_exist(
        client, endpoints, make_user, login, two_tools, role):
    make_user(f"{role}-k", role)
    jwt = bearer(login(f"{role}-k")["access_token"])
    scoped = create_key(client, jwt, tool_scope=["inscope"])
    unscoped = create_key(client, jwt, name="all")
    wrong = []
    for method, rule, url in endpoints:
        if "<tool_ref>" not in rule:
            continue
        for ref in (str(two_tools["outside"]), "outside"):
            outside_url = url.replace("/nonexistent", f"/{ref}")
            status = call(client, method, outside_url, scoped, VALID_BODIES.get(rule)).status_code
            forbidden_by_role = call(client, method, url, unscoped).status_code == 403
            if status != (403 if forbidden_by_role else 404):
                wrong.append((method, outside_url, status))
        if method != "DELETE":  # the in-scope tool answers as with an unscoped key
            inside_url = url.replace("/nonexistent", "/inscope")
            if call(client, method, inside_url, scoped).status_code != call(client, method, inside_url,
                                                                          unscoped).status_code:
                wrong.append((method, inside_url, "differs from an unscoped key"))
    assert wrong == []


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_given_a_scoped_key_then_aggregated_calls_and_lists_reach_only_its_tools(
        app, client, make_user, login, two_tools, role):
    make_user(f"{role}-k", role)
    scoped = create_key(client, bearer(login(f"{role}-k")["access_token"]), tool_scope=[two_tools["inscope"]])
    with app.app_context():
        Tool.update(status="RUNNING", mcp_tools=[{"name": "echo"}]).execute()

    listed = client.get("/api/v1/mcp/http/tools", headers=scoped).json["tools"]
    agent = client.get("/api/v1/mcp/agent/tools", headers=scoped).json["tools"]
    available = client.get("/api/v1/tools/available", headers=scoped).json["items"]
    assert [t["name"] for t in listed] == [t["name"] for t in agent] == ["inscope__echo"]
    assert [t["name"] for t in available] == ["inscope"]
    for path in ("/api/v1/mcp/http/call", "/api/v1/mcp/unified/call"):
        response = client.post(path, headers=scoped, json={"name": "outside__echo", "arguments": {}})
        assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("steps", [
    [{"id": "a", "tool": "outside", "call": "echo"}],
    [{"id": "a", "name": "outside__echo"}],
    [{"id": "a", "tool": "inscope", "call": "echo", "name": "outside__echo"}],  # one step, two tools
    [{"id": "a", "tool": "inscope", "call": "echo"}, {"parallel": [{"id": "b", "name": "outside__echo"}]}],
], ids=["tool", "name", "tool and name", "in a parallel group"])
@pytest.mark.parametrize("role", ["operator", "admin"])
def test_given_a_scoped_key_then_workflows_naming_a_tool_outside_it_are_refused_before_running(
        app, client, make_user, login, two_tools, role, steps):
    make_user(f"{role}-k", role)
    jwt = bearer(login(f"{role}-k")["access_token"])
    scoped = create_key(client, jwt, tool_scope=["inscope"])

    executed = client.post("/api/v1/mcp/agent/execute?async=true", headers=scoped, json={"steps": steps})
    stored = client.post("/api/v1/tasks", headers=scoped, json={"name": "w", "definition": {"steps": steps}})
    stored_by_login = client.post("/api/v1/tasks", headers=jwt, json={"name": "w", "definition": {"steps": steps}})
    started = client.post(f"/api/v1/tasks/{stored_by_login.json.get('id')}/start", headers=scoped)

    assert executed.status_code == 422 and stored.status_code == 422 and started.status_code in (404, 422)
    with app.app_context():
        assert Task.select().where(Task.kind == "workflow_run").count() == 0  # nothing was enqueued


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_given_a_scoped_key_then_a_workflow_of_its_tools_runs_but_editing_in_another_tool_is_refused(
        app, client, make_user, login, two_tools, role):
    make_user(f"{role}-k", role)
    scoped = create_key(client, bearer(login(f"{role}-k")["access_token"]), tool_scope=["inscope"])
    steps = [{"id": "a", "tool": "inscope", "call": "echo"}]

    executed = client.post("/api/v1/mcp/agent/execute?async=true", headers=scoped, json={"steps": steps})
    stored = client.post("/api/v1/tasks", headers=scoped, json={"name": "w", "definition": {"steps": steps}})
    edited = client.put(f"/api/v1/tasks/{stored.json['id']}", headers=scoped,
                        json={"definition": {"steps": [{"id": "a", "tool": "outside", "call": "echo"}]}})

    assert executed.status_code == 202 and stored.status_code == 201 and edited.status_code == 422
    with app.app_context():
        run = Task.get_by_id(executed.json["task_id"])
    assert run.args["tool_ids"] == {"inscope": two_tools["inscope"]}  # what the worker will run, by id


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_given_a_scoped_key_then_tasks_and_runs_touching_other_tools_are_hidden(
        app, client, make_user, login, two_tools, role):
    user = make_user(f"{role}-k", role)
    scoped = create_key(client, bearer(login(f"{role}-k")["access_token"]), tool_scope=["inscope"])
    outside_steps = {"steps": [{"id": "a", "tool": "outside", "call": "echo"}]}
    with app.app_context():
        Task.create(id="run-outside", kind="workflow_run", user_id=user.id, status="succeeded",
                    args={"definition": outside_steps, "tool_ids": {"outside": two_tools["outside"]}})
        Task.create(id="stored-outside", kind="workflow", user_id=user.id, status="created", definition=outside_steps)
        Task.create(id="call-outside", kind="call", tool_id=two_tools["outside"], user_id=user.id, status="succeeded")
        Task.create(id="call-inside", kind="call", tool_id=two_tools["inscope"], user_id=user.id, status="succeeded")

    for task_id in ("run-outside", "stored-outside", "call-outside"):
        for path in ("", "/status", "/events"):
            assert client.get(f"/api/v1/tasks/{task_id}{path}", headers=scoped).status_code == 404, (task_id, path)
    assert client.get("/api/v1/tasks/call-inside", headers=scoped).status_code == 200
    assert [t["id"] for t in client.get("/api/v1/tasks", headers=scoped).json["items"]] == ["call-inside"]


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_given_a_scoped_key_then_the_call_history_shows_only_its_tools(app, client, make_user, login, two_tools, role):
    user = make_user(f"{role}-k", role)
    jwt = bearer(login(f"{role}-k")["access_token"])
    scoped = create_key(client, jwt, tool_scope=["inscope"])
    with app.app_context():
        session = Session.create(user_id=user.id, name="history")
        for name, tool_id in two_tools.items():
            Message.create(session=session, user_id=user.id, tool_id=tool_id, tool_name="echo", status="succeeded",
                           arguments={"secret": f"for {name}"})

    messages = client.get(f"/api/v1/sessions/{session.id}/messages", headers=scoped).json["items"]
    everything = client.get(f"/api/v1/sessions/{session.id}/messages", headers=jwt).json["items"]

    assert [m["arguments"] for m in messages] == [{"secret": "for inscope"}]
    assert len(everything) == 2
    outside = client.get(f"/api/v1/sessions/{session.id}/messages?tool_id={two_tools['outside']}", headers=scoped)
    assert outside.json["items"] == []
