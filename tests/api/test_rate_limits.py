"""Rate limits on the real Redis: a per-caller management budget, a separate budget for tool calls."""
from api import create_app
from api.users.accounts import create_user
from tests.harness import make_stdio_tool
from tests.api.conftest import LOGIN, PASSWORD, bearer

INFO = "/api/v1/system/info"


def test_given_a_low_limit_when_exceeded_then_429_json_with_retry_after(make_app):
    client = make_app(**{"rate_limits.management": "3 per minute"}).test_client()

    statuses = [client.get(INFO).status_code for _ in range(4)]
    refused = client.get(INFO)

    assert statuses == [401, 401, 401, 429]
    assert refused.status_code == 429 and refused.mimetype == "application/json"
    assert refused.json["code"] == 429 and "3 per 1 minute" in refused.json["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_given_users_when_one_exhausts_its_budget_then_the_other_still_has_its_own(make_app):
    app = make_app(**{"rate_limits.management": "4 per minute"})
    client = app.test_client()
    with app.app_context():
        create_user("ann", PASSWORD)
        create_user("bob", PASSWORD)
    ann = bearer(client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).json["access_token"])
    bob = bearer(client.post(LOGIN, json={"username": "bob", "password": PASSWORD}).json["access_token"])

    ann_statuses = [client.get(INFO, headers=ann).status_code for _ in range(5)]

    assert ann_statuses == [200, 200, 200, 200, 429]
    assert client.get(INFO, headers=bob).status_code == 200


def test_given_a_spent_budget_when_probing_health_then_it_still_answers(make_app):
    client = make_app(**{"rate_limits.management": "1 per minute"}).test_client()
    client.get(INFO)

    assert client.get(INFO).status_code == 429
    assert client.get("/api/v1/system/health").status_code != 429
    assert client.get("/openapi.json").status_code == 200


def test_given_ok_responses_then_no_retry_after_header(make_app):
    client = make_app().test_client()

    response = client.get("/api/v1/system/health")

    assert "Retry-After" not in response.headers and "X-RateLimit-Limit" not in response.headers


def test_given_a_call_endpoint_then_it_uses_the_calls_budget_not_the_management_one(
        make_settings, start_worker_for, run_job_for):
    settings = make_settings(**{"rate_limits.management": "3 per minute", "rate_limits.calls": "5 per minute"})
    app = create_app(settings)
    start_worker_for(settings)
    client = app.test_client()
    with app.app_context():
        create_user("olga", PASSWORD, role="operator")
        tool = make_stdio_tool("legacy", "legacy_server.py")
    assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"
    olga = bearer(client.post(LOGIN, json={"username": "olga", "password": PASSWORD}).json["access_token"])

    calls = [client.post(f"/api/v1/tools/{tool.id}/call", headers=olga,
                         json={"tool": "echo", "arguments": {"text": "x"}}) for _ in range(6)]

    assert [reply.status_code for reply in calls] == [200] * 5 + [429]
    assert calls[-1].json["errors"]["error_type"] == "rate_limited"
    assert 1 <= int(calls[-1].headers["Retry-After"]) <= 60
    assert client.get(INFO, headers=olga).status_code == 200  # 1 of 3 management requests (login was per IP)


def test_given_a_client_polling_its_task_then_the_management_budget_is_not_spent(make_app):
    # Given a management budget of 3 a minute and a task of the user's
    from models import Task, User

    app = make_app(**{"rate_limits.management": "3 per minute", "rate_limits.calls": "1000 per minute"})
    client = app.test_client()
    with app.app_context():
        create_user("ann", PASSWORD, role="operator")
        Task.create(id="t1", kind="call", user_id=User.get(User.username == "ann").id, status="running")
        tool = make_stdio_tool("poll", "legacy_server.py")
    ann = bearer(client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).json["access_token"])

    # When it polls the task, its status and a tool's status, as the README says to after a 202
    polls = [client.get(path, headers=ann).status_code for path in
             ["/api/v1/tasks/t1", "/api/v1/tasks/t1/status", f"/api/v1/tools/{tool.id}/status"] * 4]

    # Then every poll is answered, and management requests still have their whole budget
    assert polls == [200] * 12
    assert [client.get(INFO, headers=ann).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_given_a_poll_budget_when_spent_then_429_with_retry_after(make_app):
    from models import Task

    app = make_app(**{"rate_limits.calls": "3 per minute"})
    client = app.test_client()
    with app.app_context():
        user = create_user("ann", PASSWORD)
        Task.create(id="t1", kind="call", user_id=user.id, status="running")
    ann = bearer(client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).json["access_token"])

    statuses = [client.get("/api/v1/tasks/t1", headers=ann).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/tasks/t1", headers=ann)
    assert refused.json["code"] == 429 and 0 < int(refused.headers["Retry-After"]) <= 61


def test_given_a_console_session_when_its_pages_read_then_the_management_budget_is_not_spent(make_app):
    # Given a management budget of 3 a minute and a console session (the session cookie, CSRF double submit)
    app = make_app(**{"rate_limits.management": "3 per minute"})
    client = app.test_client()
    with app.app_context():
        create_user("ann", PASSWORD, role="operator")
    token = client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).json["access_token"]
    assert client.post("/session", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    csrf = client.get_cookie("mcps_csrf").value

    # When its pages read ten times, as a person clicking through the console does
    reads = [client.get(INFO).status_code for _ in range(10)]

    # Then every read is answered, and its writes still spend the management budget
    assert reads == [200] * 10
    writes = [client.post("/api/v1/auth/api-keys", json={"name": f"k{n}"}, headers={"X-CSRF-TOKEN": csrf}).status_code
              for n in range(4)]
    assert writes == [201, 201, 201, 429]
