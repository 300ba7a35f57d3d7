"""The same account rules on PostgreSQL (locking rows, pooled connections returned per request), and
requests after every connection was dropped (what a PostgreSQL restart does to its clients)."""
import threading
from concurrent.futures import ThreadPoolExecutor

from api import create_app
from api.users.accounts import create_user
from models import User, db
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


def _fill_pool(connections: int) -> None:
    """Leave `connections` idle connections in the pool, as request threads do between requests."""
    opened = threading.Barrier(connections)

    def hold_one():
        db.connect()
        opened.wait(10)  # all open at once: each thread gets a connection of its own
        db.close()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(lambda _: hold_one(), range(connections)))


def test_given_postgres_when_every_backend_is_terminated_then_the_next_requests_succeed(
        postgres_app, postgres_database, terminate_postgres_backends):
    client = postgres_app.test_client()
    with postgres_app.app_context():
        create_user("root", PASSWORD, role="admin")
    admin = bearer(client.post(LOGIN, json={"username": "root", "password": PASSWORD}).json["access_token"])
    _fill_pool(4)
    assert terminate_postgres_backends(postgres_database) >= 4  # what a PostgreSQL restart does to clients

    logged_in = client.post(LOGIN, json={"username": "root", "password": PASSWORD})
    listed = client.get("/api/v1/tools", headers=admin)
    created = client.post("/api/v1/tools", headers=admin,
                          json={"name": "time", "transport": "stdio", "command": "mcp-server-time"})
    with ThreadPoolExecutor(8) as pool:  # concurrent requests, as gunicorn's threads make them
        concurrent = list(pool.map(lambda _: postgres_app.test_client().get("/api/v1/tools", headers=admin).status_code,
                                   range(16)))

    assert (logged_in.status_code, listed.status_code, created.status_code) == (200, 200, 201)
    assert concurrent == [200] * 16
    assert client.get("/api/v1/tools/time", headers=admin).json["name"] == "time"


def test_given_postgres_when_a_thread_s_open_connection_is_terminated_then_its_next_queries_reconnect(
        postgres_app, postgres_database, terminate_postgres_backends):
    """A connection held open (the test thread's, or a CLI command's) is replaced, not reused dead."""
    with postgres_app.app_context():
        create_user("ann", PASSWORD)
    assert User.select().count() == 1  # this thread now holds an open connection
    assert terminate_postgres_backends(postgres_database) >= 1

    assert User.select().count() == 1
    assert User.create(username="bob", password_hash="x").id


def test_given_postgres_when_the_app_is_built_then_no_pooled_connection_is_kept_for_forked_processes(
        make_settings, postgres_database):
    # Given/When an app built on PostgreSQL (gunicorn --preload builds it once, then forks the web processes)
    create_app(make_settings(**{"database.url": postgres_database}))

    # Then the migration's connection was closed, not kept in the pool for every fork to share
    assert db.obj._connections == [] and db.obj._in_use == {}
