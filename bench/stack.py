"""A throwaway platform for the benchmark: data dir, Redis, one worker process, the API under gunicorn
(started as the Procfile starts it).

Everything lives in a temporary directory and every process is stopped at the end. Redis is the
embedded one (as with `make run`) unless --redis-url is given.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from config import load_settings
from workers.embedded_redis import start_embedded_redis
from jobs.connection import redis_client, wait_for_redis

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ("bench-admin", "bench-password-1234")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    def __init__(self, redis_url: str | None, worker_threads: int, web_workers: int, web_threads: int,
                 web_class: str = "gthread"):
        self.tmp = tempfile.TemporaryDirectory(prefix="mcps-bench-")
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MCPS_") and k not in (
            "REDIS_URL", "DATABASE_URL")}
        self.env.update({"MCPS_APP__DATA_DIR": self.tmp.name, "MCPS_MCP__WORKER__PROCESSES": "1",
                         "MCPS_MCP__WORKER__THREADS": str(worker_threads), "PYTHONPATH": str(ROOT),
                         "MCPS_RATE_LIMITS__MANAGEMENT": "100000 per minute"})
        if redis_url:
            self.env["REDIS_URL"] = redis_url
            self.env["MCPS_REDIS__NAMESPACE"] = f"mcpsbench{os.getpid()}"
        self.settings = load_settings(self.env)
        self.web_workers, self.web_threads, self.web_class = web_workers, web_threads, web_class
        self.processes: list[subprocess.Popen] = []
        self.base = f"http://127.0.0.1:{self.port}/api/v1"

    def __enter__(self) -> "Stack":
        if self.settings.redis.embedded:
            self.processes.append(start_embedded_redis(self.settings))
        wait_for_redis(redis_client(self.settings))
        self._run([sys.executable, "-m", "flask", "--app", "api.wsgi", "users", "create-admin",
                   "--username", ADMIN[0], "--password", ADMIN[1]])
        self._spawn([sys.executable, "-m", "dramatiq", "workers.main:setup", "--processes", "1", "--threads",
                     self.env["MCPS_MCP__WORKER__THREADS"]])
        self._spawn([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "api.wsgi:app", "--preload", "--bind", f"127.0.0.1:{self.port}",
                     "--workers", str(self.web_workers), "--worker-class", self.web_class, "--threads",
                     str(self.web_threads), "--keep-alive", "75", "--control-socket", f"{self.tmp.name}/gunicorn.ctl",
                     "--log-level", "warning"])
        self._wait_healthy()
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        if not self.settings.redis.embedded:
            client = redis_client(self.settings)
            for key in client.scan_iter(f"{self.settings.redis.namespace}*"):
                client.delete(key)
        self.tmp.cleanup()

    def _run(self, argv: list[str]) -> None:
        subprocess.run(argv, cwd=ROOT, env=self.env, check=True, capture_output=True)

    def _spawn(self, argv: list[str]) -> None:
        self.processes.append(subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                health = httpx2.get(f"{self.base}/system/health", timeout=2).json()
                if health.get("status") == "ok":
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the benchmark stack did not become healthy")

    def login(self) -> dict:
        reply = httpx2.post(f"{self.base}/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        reply.raise_for_status()
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}
