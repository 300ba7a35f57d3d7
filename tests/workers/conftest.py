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


@pytest.fixture
def start_procfile_worker(settings):
    """start_procfile_worker(processes): `python -m workers` as the Procfile runs it, killed after the test."""
    started = []

    def start(processes: int = 1) -> subprocess.Popen:
        env = {**settings_environ(settings), "MCPS_MCP__WORKER__PROCESSES": str(processes)}
        process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True)
        started.append(process)
        client = redis_client(settings)
        wait_for(lambda: len(registry.live_workers(client, settings)) == processes, timeout=30)
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
