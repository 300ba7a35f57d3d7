"""Fixtures of the many-host tests: the platform as two "hosts" on one Redis and one PostgreSQL.

A host here is what README.md's "Running on several machines" puts on one machine: an API process
(gunicorn), a front door (`python -m api.mcp_proxy`) and a worker host (`python -m workers`, the Procfile's
supervisor and its Dramatiq processes), all with that host's own data dir (so its own run dir, logs and
tool working dirs) and the environment every host shares: DATABASE_URL, REDIS_URL, the Redis namespace,
the JWT secret and the encryption key. Both hosts run on this machine, on loopback, in one network
namespace: what makes them two hosts is that they share nothing but those services and that environment.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
from dataclasses import dataclass, field

import psutil
import pytest
from cryptography.fernet import Fernet

from api import create_app
from api.users.accounts import create_user
from jobs.connection import redis_client
from tests.api.proxies import ProxyProcess
from tests.conftest import bind_fresh_database
from tests.faults.conftest import process_census  # noqa: F401  (autouse: no process outlives a test)
from tests.harness import WebProcess
from tests.workers.conftest import own_live_workers, start_procfile_worker  # noqa: F401  (a fixture)

PASSWORD = "correct-horse-battery"
# The owner lease and heartbeat of the fault tests: a dead host's tools are taken over in about
# lease_ttl_ms + heartbeat_ms + the server's start.
HOST_SETTINGS = {"mcp.worker.lease_ttl_ms": 1500, "mcp.worker.heartbeat_ms": 300,
                 "mcp.tools.restart_backoff_s": 0.2, "mcp.tools.start_timeout_s": 20}

# gunicorn threads of each API: 12 lent to waiting sync calls (server.reserved_threads is 4), enough for the
# soak's clients (fewer would answer some sync calls 202 + task, as api/waits.py says)
WEB_THREADS = 16


@dataclass
class Host:
    name: str
    settings: object
    environ: dict  # what this host's processes get on top of settings_environ(settings)
    web: WebProcess | None = None
    proxy: ProxyProcess | None = None
    workers: object = None  # the `python -m workers` supervisor (subprocess.Popen)
    worker_ids: set[str] = field(default_factory=set)

    def kill(self) -> list[int]:
        """kill -9 of the worker host: its supervisor and every process under it at once (a machine that
        lost power); returns the pids killed."""
        root = psutil.Process(self.workers.pid)
        doomed = [root, *root.children(recursive=True)]
        # Frozen first, then killed: none of them sees another die (no PR_SET_PDEATHSIG SIGTERM begins a
        # graceful shutdown in a child whose parent was killed an instant before it).
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for process in doomed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)
        self.workers.wait(10)
        return [process.pid for process in doomed]


def shared_environ(settings) -> dict:
    """The environment every host gets besides DATABASE_URL, REDIS_URL and the Redis namespace (which
    settings_environ carries): the secrets, and the lease timings."""
    worker = settings.mcp.worker
    return {"MCPS_SECURITY__JWT_SECRET": settings.security.jwt_secret,
            "MCPS_SECURITY__ENCRYPTION_KEY": settings.security.encryption_key,
            "MCPS_MCP__WORKER__LEASE_TTL_MS": str(worker.lease_ttl_ms),
            "MCPS_MCP__WORKER__HEARTBEAT_MS": str(worker.heartbeat_ms),
            "MCPS_MCP__WORKER__THREADS": "8", "MCPS_RATE_LIMITS__MANAGEMENT": settings.rate_limits.management}


@pytest.fixture
def two_hosts(make_settings, postgres_database, start_procfile_worker, tmp_path):
    """[host A, host B]: each an API, a front door and a worker host, on one PostgreSQL database (emptied
    first) and one Redis namespace; the test process is bound to that database too."""
    shared = {"database.url": postgres_database, "security.jwt_secret": secrets.token_urlsafe(48),
              "security.encryption_key": Fernet.generate_key().decode(), **HOST_SETTINGS}
    first = make_settings(**shared, **{"app.data_dir": str(tmp_path / "host-a")})
    shared["redis.namespace"] = first.redis.namespace
    hosts = [Host("a", first, shared_environ(first))]
    second = make_settings(**shared, **{"app.data_dir": str(tmp_path / "host-b")})
    hosts.append(Host("b", second, shared_environ(second)))
    database = bind_fresh_database(first)
    try:
        for host in hosts:
            host.workers = start_procfile_worker(1, host.settings, host.environ)
            host.worker_ids = {w["id"] for w in own_live_workers(host.workers, redis_client(host.settings),
                                                                   host.settings)}
            host.web = WebProcess(host.settings, threads=WEB_THREADS, extra_env=host.environ)
            host.proxy = ProxyProcess(host.settings, host.environ)
        yield hosts
    finally:
        for host in hosts:
            for process in (host.proxy, host.web):
                if process is not None:
                    process.stop()
        database.close()


def admin_of(settings) -> None:
    with create_app(settings).app_context():
        create_user("admin", PASSWORD, role="admin")


def host_of(hosts: list[Host], worker_id: str | None) -> Host | None:
    return next((host for host in hosts if worker_id in host.worker_ids), None)

