"""The same account rules on PostgreSQL (locking rows, pooled connections returned per request), requests
after every connection was dropped (what a PostgreSQL restart does to its clients), and a backup taken and
restored through the API process (pg_dump / psql on the worker)."""
import gzip
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2

from api import create_app
from api.extensions import SETTINGS_KEY
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


def test_given_the_api_and_a_worker_on_postgres_when_a_backup_is_restored_then_data_deleted_after_it_is_back(
        postgres_app, start_web, start_worker_for):
    # Given the API (gunicorn) and a worker on PostgreSQL, an admin, and a tool
    settings = postgres_app.extensions[SETTINGS_KEY]
    with postgres_app.app_context():
        create_user("root", PASSWORD, role="admin")
    db.close()
    web, _worker = start_web(settings), start_worker_for(settings)
    api = httpx2.Client(base_url=f"{web.url}/api/v1", timeout=60)
    admin = bearer(api.post("/auth/login", json={"username": "root", "password": PASSWORD}).json()["access_token"])
    kept = api.post("/tools", headers=admin, json={"name": "kept", "transport": "stdio", "command": "uvx"})
    assert kept.status_code == 201, kept.text

    # When a backup is taken through the API
    taken = api.post("/system/backups?wait=true", headers=admin)
    assert taken.status_code == 200 and taken.json()["status"] == "succeeded", taken.text
    backup = taken.json()["result"]["backup"]
    assert backup["engine"] == "postgresql" and backup["compressed"]
    download = api.get(f"/system/backups/{backup['name']}", headers=admin)
    assert b"CREATE TABLE" in gzip.decompress(download.content)  # a pg_dump script

    # And after it the tool is deleted and another one created
    assert api.delete("/tools/kept", headers=admin).status_code in (200, 202, 204)
    assert api.post("/tools", headers=admin, json={"name": "later", "transport": "stdio", "command": "uvx"}
                    ).status_code == 201

    # When the backup is restored while a reader keeps asking for the tools
    statuses, restoring = [], threading.Event()

    def read_tools():
        with httpx2.Client(base_url=f"{web.url}/api/v1", timeout=60) as reader:
            while not restoring.is_set():
                statuses.append(reader.get("/tools", headers=admin).status_code)
    reader = threading.Thread(target=read_tools)
    reader.start()
    try:
        restored = api.post(f"/system/backups/{backup['name']}/restore?wait=true", headers=admin)
    finally:
        restoring.set()
        reader.join(30)

    # Then the tool is back, the later one gone, and the API answered throughout (or said 503)
    assert restored.status_code == 200 and restored.json()["result"] == {
        "restored": backup["name"], "engine": "postgresql"}, restored.text
    listed = api.get("/tools", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [tool["name"] for tool in listed.json()["items"]] == ["kept"]
    assert statuses and set(statuses) <= {200, 503}, statuses
    assert api.post("/auth/login", json={"username": "root", "password": PASSWORD}).status_code == 200
