"""The whole platform as `make run` starts it (honcho and the Procfile: embedded Redis, gunicorn, the
workers, the scheduler, the front door) in a temporary data dir on free ports: kill -9 the Dramatiq worker
process that owns a tool and everything keeps answering; the tool runs again on the other within 5 s.
(tests/workers/test_entry.py covers `python -m workers` alone.)"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import psutil
import pytest

from config import load_settings
from tests.api.proxies import LEGACY, initialize, post
from tests.harness import ROOT, SERVERS, free_port, listening, wait_for
from jobs import registry
from jobs.connection import redis_client
from jobs.leases import ToolOwnerLease

HONCHO = str(Path(sys.executable).with_name("honcho"))


@pytest.fixture
def platform(tmp_path):
    """(environment, web url, proxy url, admin password, honcho process) of a running `honcho start`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MCPS_") and k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"PATH": f"{Path(sys.executable).parent}:{env['PATH']}", "VIRTUAL_ENV": str(Path(sys.executable).parents[1]),
                "MCPS_APP__DATA_DIR": str(tmp_path / "data"), "MCPS_SERVER__PORT": str(free_port()),
                "MCPS_MCP__PROXY__PORT": str(free_port()), "MCPS_SERVER__WORKERS": "1", "MCPS_SERVER__THREADS": "4",
                "MCPS_MCP__WORKER__PROCESSES": "2", "MCPS_MCP__WORKER__THREADS": "4",
                "MCPS_MCP__WORKER__LEASE_TTL_MS": "1500", "MCPS_MCP__WORKER__HEARTBEAT_MS": "300"})
    no_dotenv = ["-e", str(tmp_path / "empty.env")]  # not the repository's .env
    (tmp_path / "empty.env").write_text("")
    bootstrap = subprocess.run([HONCHO, *no_dotenv, "run", "python", "-m", "api.bootstrap"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
    password = re.search(r"password: (\S+)", bootstrap.stdout + bootstrap.stderr).group(1)
    log = open(tmp_path / "honcho.log", "w")
    honcho = subprocess.Popen([HONCHO, *no_dotenv, "start"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    web, proxy = int(env["MCPS_SERVER__PORT"]), int(env["MCPS_MCP__PROXY__PORT"])
    try:
        wait_for(lambda: honcho.poll() is not None or (listening(web) and listening(proxy)), timeout=60)
        assert honcho.poll() is None, (tmp_path / "honcho.log").read_text()[-3000:]
        yield env, f"http://127.0.0.1:{web}/api/v1", f"http://127.0.0.1:{proxy}/mcp", password, honcho
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGINT)  # Ctrl-C in the terminal
            try:
                honcho.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait()
        log.close()


def test_given_make_run_when_the_worker_process_owning_a_tool_is_killed_then_everything_keeps_answering(platform):
    env, api, proxy, password, honcho = platform
    settings = load_settings(environ=env)
    redis = redis_client(settings)
    wait_for(lambda: len(registry.live_workers(redis, settings)) == 2, timeout=30)
    http = httpx2.Client(base_url=api, timeout=30)
    token = http.post("/auth/login", json={"username": "admin", "password": password}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    tool = http.post("/tools", json={"name": "echo", "transport": "stdio", "command": sys.executable,
                                     "args": [str(SERVERS / "echo_server.py")]}).json()
    assert http.post(f"/tools/{tool['id']}/start?wait=true").status_code == 200
    key = http.post("/auth/api-keys", json={"name": "laptop"}).json()["key"]
    session = initialize(proxy, key)
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
    assert post(proxy, key, {"jsonrpc": "2.0", "method": "notifications/initialized"}, **headers).status_code == 202

    # When the Dramatiq worker process that owns the tool is killed as the OOM killer does
    leases = ToolOwnerLease(redis, settings)
    victim = leases.owner(tool["id"])
    victim_pid = next(w["pid"] for w in registry.live_workers(redis, settings) if w["id"] == victim)
    os.kill(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()

    # Then the tool runs again on the other worker process within 5 s, and calls answer again
    wait_for(lambda: leases.owner(tool["id"]) not in (None, victim)
             and http.get(f"/tools/{tool['id']}").json()["status"] == "RUNNING", timeout=5)
    assert time.monotonic() - killed_at < 5
    call = http.post(f"/tools/{tool['id']}/call", json={"tool": "echo", "arguments": {"text": "after"}})
    assert call.status_code == 200 and call.json()["content"][0]["text"] == "after", call.text
    # and so does the front door, in the session begun before
    answer = wait_for(lambda: (r := post(proxy, key, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                                     "params": {"name": "echo", "arguments": {"text": "mcp"}}},
                                         **headers)).status_code == 200 and "result" in r.json() and r, timeout=10)
    assert answer.json()["result"]["content"][0]["text"] == "mcp"
    # and the dead process was replaced, every Procfile process is still up, and health is ok
    wait_for(lambda: len(registry.live_workers(redis, settings)) == 2
             and victim not in {w["id"] for w in registry.live_workers(redis, settings)}, timeout=15)
    assert honcho.poll() is None
    health = http.get("/system/health").json()
    assert health["status"] == "ok" and health["checks"]["workers"]["alive"] == 2, health


def test_given_make_run_when_the_embedded_redis_server_is_killed_then_it_comes_back_and_so_does_everything(platform):
    env, api, proxy, password, honcho = platform
    settings = load_settings(environ=env)
    redis = redis_client(settings)
    wait_for(lambda: len(registry.live_workers(redis, settings)) == 2, timeout=30)
    http = httpx2.Client(base_url=api, timeout=30)
    token = http.post("/auth/login", json={"username": "admin", "password": password}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    tool = http.post("/tools", json={"name": "echo", "transport": "stdio", "command": sys.executable,
                                     "args": [str(SERVERS / "echo_server.py")]}).json()
    assert http.post(f"/tools/{tool['id']}/start?wait=true").status_code == 200
    server_pid = http.get(f"/tools/{tool['id']}").json()["pid"]

    # When the embedded redis-server dies (the Procfile's `redis` process runs it as its child)
    redis_server = next(p for p in psutil.Process(honcho.pid).children(recursive=True)
                        if p.name() == "redis-server")
    redis_server.kill()

    # Then it is started again (its data in the append-only file), and calls answer again, on the same
    # server process, with every Procfile process still up
    def answers():
        try:
            response = http.post(f"/tools/{tool['id']}/call", json={"tool": "echo", "arguments": {"text": "back"}})
        except httpx2.HTTPError:
            return False
        return response.status_code == 200 and response
    assert wait_for(answers, timeout=20).json()["content"][0]["text"] == "back"
    assert honcho.poll() is None
    assert http.get(f"/tools/{tool['id']}").json()["pid"] == server_pid
    assert http.get("/system/health").json()["status"] == "ok"
