"""`python -m workers` (the Procfile's worker) stops gracefully when its whole process group is signalled."""
import os
import signal
import subprocess
import sys

import psutil

from models import LogEntry, Tool
from tests.harness import ROOT, make_stdio_tool, settings_environ, wait_for
from jobs import registry
from jobs.connection import redis_client


def test_given_the_procfile_worker_when_its_group_gets_sigterm_then_tools_stop_gracefully(
        settings, database, run_job_for):
    env = {**settings_environ(settings), "dramatiq_worker_timeout": "100"}
    process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True)
    try:
        client = redis_client(settings)
        wait_for(lambda: registry.live_workers(client, settings), timeout=20)
        tool = make_stdio_tool("legacy", "legacy_server.py")
        assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"
        pid = Tool.get_by_id(tool.id).pid

        os.killpg(process.pid, signal.SIGTERM)  # as honcho and systemd do
        assert process.wait(30) == 0

        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        # A graceful stop: the session said "stopped" and the worker left the registry itself.
        assert LogEntry.select().where(LogEntry.tool_id == tool.id, LogEntry.message == "stopped").exists()
        assert registry.live_workers(client, settings) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
