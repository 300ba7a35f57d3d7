"""Real worker processes (the Dramatiq CLI, as in the Procfile) for tests, and their fixtures
(registered for the whole suite by tests/conftest.py)."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from models import Tool
from jobs import registry
from jobs import Job, JobClient
from jobs.connection import redis_client

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "tests" / "servers"


def settings_environ(settings) -> dict:
    """The environment that makes a child process load the same settings as the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPS_")}
    env.update({
        "MCPS_APP__ENV": settings.app.env, "MCPS_APP__DATA_DIR": settings.app.data_dir,
        "MCPS_REDIS__NAMESPACE": settings.redis.namespace, "REDIS_URL": settings.redis.url,
        "DATABASE_URL": settings.database.url, "MCPS_MCP__WORKER__PROCESSES": "1",
        "MCPS_MCP__WORKER__THREADS": "8", "PYTHONPATH": str(ROOT),
        "dramatiq_worker_timeout": "100",  # quicker shutdown between tests
        "MCPS_MCP__TOOLS__RESTART_BACKOFF_S": str(settings.mcp.tools.restart_backoff_s),
        "MCPS_MCP__TOOLS__START_TIMEOUT_S": str(settings.mcp.tools.start_timeout_s),
    })
    return env


class WorkerProcess:
    def __init__(self, settings, extra_env: dict | None = None):
        self.settings = settings
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "workers.main:setup", "--processes", "1", "--threads", "8"],
            cwd=ROOT, env={**settings_environ(settings), **(extra_env or {})}, start_new_session=True)
        self.redis = redis_client(settings)

    def worker_ids(self) -> set[str]:
        """Ids of the live workers forked by this process (dramatiq forks one child per process)."""
        pids = {child.pid for child in psutil.Process(self.process.pid).children()}
        return {w["id"] for w in registry.live_workers(self.redis, self.settings) if w["pid"] in pids}

    def wait_ready(self, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.worker_ids()
            if ids:
                return next(iter(ids))
            if self.process.poll() is not None:
                raise RuntimeError("worker exited at start-up")
            time.sleep(0.05)
        raise TimeoutError("worker did not come up")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# Ports for the test's servers come from below Linux's ephemeral range (32768-60999), where no outgoing
# connection takes its local port between free_port() and the server's bind, and from a band of their own
# for each pytest-xdist process, so that two test processes never hand out the same port.
PORT_RANGE = (20000, 32768)
_handed_out: set[int] = set()  # not twice in one process: two calls in a row get two ports


def _port_band() -> range:
    low, high = PORT_RANGE
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), index + 1)
    width = (high - low) // count
    return range(low + index * width, low + (index + 1) * width)


def free_port() -> int:
    """A port nothing is bound to now, for a server the test is about to start."""
    band = _port_band()
    for _ in range(200):
        port = random.choice(band)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {band}")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class WebProcess:
    """The REST API under gunicorn (gthread, as in the Procfile) on the test's settings."""

    def __init__(self, settings, threads: int = 4, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**settings_environ(settings), "MCPS_SERVER__THREADS": str(threads), **(extra_env or {})}
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:api.gunicorn_conf", "api.wsgi:app",
             "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--worker-class", "gthread", "--threads", str(threads)],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: listening(self.port) or self.process.poll() is not None, timeout=20)
        assert self.process.poll() is None, "gunicorn exited at start-up"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start_web():
    """start_web(settings, threads=4, extra_env=None): the API under gunicorn, stopped after the test."""
    webs = []

    def start(settings, **options) -> WebProcess:
        web = WebProcess(settings, **options)
        webs.append(web)
        return web

    yield start
    for web in webs:
        web.stop()


@pytest.fixture
def start_worker_for():
    """start_worker_for(settings, extra_env=None): a worker process on those settings (and MCPS_ variables
    of `extra_env`), stopped after the test."""
    workers = []

    def start(settings, extra_env: dict | None = None) -> WorkerProcess:
        worker = WorkerProcess(settings, extra_env)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def start_worker(settings, database, start_worker_for):
    """start_worker(): a worker process on the test's `settings` and SQLite database."""
    return lambda: start_worker_for(settings)


SCHEDULER_LEADER_TTL_MS = 900  # a killed leader is replaced within about a second


@pytest.fixture
def start_scheduler_for():
    """start_scheduler_for(settings, **env): `python -m scheduler` on those settings (and the MCPS_ variables
    of `env`) with a short leader lock, stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(settings, **env) -> subprocess.Popen:
        environ = {**settings_environ(settings), "MCPS_SCHEDULER__LEADER_TTL_MS": str(SCHEDULER_LEADER_TTL_MS), **env}
        process = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=environ,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def start_scheduler(settings, start_scheduler_for):
    """start_scheduler(**env): a scheduler process on the test's `settings`."""
    return lambda **env: start_scheduler_for(settings, **env)


@pytest.fixture
def run_job_for():
    """run_job_for(settings, kind, tool_id, **args): submit a job and wait for its result event."""
    def run(settings, kind, tool_id=None, wait_s=30, user_id=None, **args):
        client = redis_client(settings)
        jobs = JobClient.from_settings(settings, client)
        job = Job(kind=kind, tool_id=tool_id, args=args, user_id=user_id)
        jobs.submit(job)
        return jobs.wait(job.id, wait_s)
    return run


@pytest.fixture
def jobs(settings):
    client = redis_client(settings)
    return JobClient.from_settings(settings, client)


@pytest.fixture
def run_job(jobs):
    """Submit a job and wait for its result event, as the API does."""
    def run(kind, tool_id=None, wait_s=30, **args):
        job = Job(kind=kind, tool_id=tool_id, args=args)
        jobs.submit(job)
        return jobs.wait(job.id, wait_s)
    return run


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll `predicate` until it returns something truthy (returned), or fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def make_stdio_tool(name: str, script: str, **fields) -> Tool:
    return Tool.create(name=name, transport="stdio", command=sys.executable, args=[str(SERVERS / script)], **fields)
