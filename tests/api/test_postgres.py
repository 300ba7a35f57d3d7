"""The same account rules on PostgreSQL (locking rows, pooled connections returned per request)."""
from api.users.accounts import create_user
from models import User
from tests.api.conftest import LOGIN, PASSWORD, bearer


def test_given_postgres_when_logging_in_and_managing_users_then_it_works(postgres_app):
    client = postgres_app.test_client()
    with postgres_app.app_context():
        create_user("root", PASSWORD, role="admin")
    admin = bearer(client.post(LOGIN, json={"username": "root", "password": PASSWORD}).json["access_token"])
    root_id = User.get(User.username == "root").id

    created = client.post("/api/v1/users", headers=admin, json={"username": "olga", "role": "operator"})
    last_admin = client.put(f"/api/v1/users/{root_id}", headers=admin, json={"role": "viewer"})
    listed = client.get("/api/v1/users", headers=admin).json
    info = client.get("/api/v1/system/info", headers=admin).json

    assert created.status_code == 201
    assert last_admin.status_code == 409
    assert listed["total"] == 2
    assert info["database_engine"] == "postgresql"


def test_given_postgres_when_failing_logins_then_the_account_locks(make_settings, postgres_app):
    client = postgres_app.test_client()
    with postgres_app.app_context():
        create_user("ann", PASSWORD)

    statuses = [client.post(LOGIN, json={"username": "ann", "password": "wrong-pass"}).status_code
                for _ in range(5)]

    assert statuses == [401, 401, 401, 401, 423]
