"""`python -m workers` (the Procfile's worker): stops gracefully when its whole process group is signalled,
and keeps serving when one of its worker processes is killed."""
import os
import signal
import time

import psutil

from api import create_app
from models import LogEntry, Tool
from tests.harness import make_stdio_tool, wait_for
from jobs import registry
from jobs.connection import redis_client
from jobs.leases import ToolOwnerLease


def test_given_the_procfile_worker_when_its_group_gets_sigterm_then_tools_stop_gracefully(
        settings, database, run_job_for, start_procfile_worker):
    process = start_procfile_worker()
    client = redis_client(settings)
    tool = make_stdio_tool("legacy", "legacy_server.py")
    assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"
    pid = Tool.get_by_id(tool.id).pid

    os.killpg(process.pid, signal.SIGTERM)  # as honcho and systemd do
    assert process.wait(30) == 0

    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    # A graceful stop: the session said "stopped" and the worker left the registry itself.
    assert LogEntry.select().where(LogEntry.tool_id == tool.id, LogEntry.message == "stopped").exists()
    assert registry.live_workers(client, settings) == []


def test_given_two_worker_processes_when_one_is_killed_then_the_worker_keeps_serving_and_replaces_it(
        settings, database, run_job_for, start_procfile_worker):
    # Given the Procfile's worker with two processes, and a running tool
    process = start_procfile_worker(processes=2)
    client = redis_client(settings)
    leases = ToolOwnerLease(client, settings)
    tool = make_stdio_tool("legacy", "legacy_server.py")
    assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"
    victim = leases.owner(tool.id)
    victim_pid = next(w["pid"] for w in registry.live_workers(client, settings) if w["id"] == victim)
    assert victim_pid in {child.pid for child in psutil.Process(process.pid).children(recursive=True)}

    # When the worker process owning it is killed as the OOM killer does
    os.kill(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()

    # Then the tool runs again in another worker process within 5 s
    wait_for(lambda: leases.owner(tool.id) not in (None, victim)
             and Tool.get_by_id(tool.id).status == "RUNNING", timeout=5)
    assert time.monotonic() - killed_at < 5
    # and a new call succeeds
    call = run_job_for(settings, "call", tool.id, tool="echo", arguments={"text": "after"})
    assert call["result"]["content"][0]["text"] == "legacy:after"
    # and the dead process was replaced: as many live workers as the setting, the supervisor still up
    wait_for(lambda: len(registry.live_workers(client, settings)) == 2
             and victim not in {w["id"] for w in registry.live_workers(client, settings)}, timeout=10)
    assert process.poll() is None
    # and the API says so
    health = create_app(settings).test_client().get("/api/v1/system/health")
    assert health.status_code == 200 and health.json["status"] == "ok"
    assert health.json["checks"]["workers"]["alive"] == 2

    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(30) == 0


def test_given_the_procfile_worker_when_it_is_killed_then_no_worker_process_outlives_it(
        settings, database, start_procfile_worker):
    process = start_procfile_worker(processes=2)
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert len(descendants) == 4  # per worker process: Dramatiq's main process and its worker process

    process.kill()
    process.wait()

    wait_for(lambda: not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE
                             for child in descendants), timeout=30)
