"""`python -m scheduler` as real processes: SIGKILL of the leader, SIGTERM for a clean stop."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.leader import current_leader
from jobs.connection import redis_client

ROOT = Path(__file__).resolve().parents[2]
TTL_MS = 900


@pytest.fixture
def start_scheduler(settings):
    env = {**os.environ, "REDIS_URL": settings.redis.url, "MCPS_REDIS__NAMESPACE": settings.redis.namespace,
           "MCPS_APP__DATA_DIR": settings.app.data_dir, "MCPS_APP__ENV": "test",
           "MCPS_SCHEDULER__LEADER_TTL_MS": str(TTL_MS)}
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for_leader(client, settings, timeout_s=15.0, other_than=None) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        leader = current_leader(client, settings)
        if leader and leader != other_than:
            return leader
        time.sleep(0.05)
    raise AssertionError("no new leader within %.1f s" % timeout_s)


def pid_of(scheduler_id: str) -> int:
    return int(scheduler_id.split(":")[1])  # ids are host:pid:random


def test_given_two_scheduler_processes_when_the_leader_is_killed_then_the_other_takes_over(settings, start_scheduler):
    client = redis_client(settings)
    processes = {p.pid: p for p in (start_scheduler(), start_scheduler())}
    leader = wait_for_leader(client, settings)
    assert pid_of(leader) in processes

    processes.pop(pid_of(leader)).kill()
    killed_at = time.monotonic()

    successor = wait_for_leader(client, settings, other_than=leader, timeout_s=TTL_MS / 1000 * 3)
    assert pid_of(successor) in processes
    assert time.monotonic() - killed_at >= TTL_MS / 1000 * 0.5, "took over before the lock could expire"


def test_given_a_running_scheduler_when_sent_sigterm_then_it_stops_cleanly_and_frees_the_lock(settings, start_scheduler):
    client = redis_client(settings)
    process = start_scheduler()
    wait_for_leader(client, settings)

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)

    assert process.returncode == 0, output
    assert "event=scheduler.stopped" in output
    assert current_leader(client, settings) is None
