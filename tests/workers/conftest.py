"""Fixtures of the worker tests: the Procfile's `python -m workers` as a real process."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

import psutil
import pytest

from jobs import registry
from jobs.connection import redis_client
from tests.harness import ROOT, settings_environ, wait_for


def own_live_workers(process: subprocess.Popen, client, settings) -> list[dict]:
    """The live workers (registry entries) that are processes of this `python -m workers`."""
    try:
        pids = {child.pid for child in psutil.Process(process.pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return []
    return [worker for worker in registry.live_workers(client, settings) if worker["pid"] in pids]


@pytest.fixture
def start_procfile_worker(settings):
    """start_procfile_worker(processes, settings=None, extra_env=None): `python -m workers` as the Procfile
    runs it (on the test's settings unless given others, e.g. another host's data dir), ready when its
    `processes` workers beat; killed after the test."""
    started = []

    def start(processes: int = 1, settings=settings, extra_env: dict | None = None) -> subprocess.Popen:
        env = {**settings_environ(settings), "MCPS_MCP__WORKER__PROCESSES": str(processes), **(extra_env or {})}
        process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True)
        started.append(process)
        client = redis_client(settings)
        wait_for(lambda: len(own_live_workers(process, client, settings)) == processes, timeout=30)
        return process

    yield start
    for process in started:
        descendants = psutil.Process(process.pid).children(recursive=True) if process.poll() is None else []
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in descendants:  # nothing of it may outlive the test
            with contextlib.suppress(psutil.Error):
                child.kill()
