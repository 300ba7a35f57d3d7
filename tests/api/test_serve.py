"""`python -m api.serve` (the Procfile's web): gunicorn bound and sized by server.host/port/workers/threads."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from api.serve import gunicorn_argv
from tests.harness import ROOT, free_port, listening, settings_environ, wait_for


def test_given_server_settings_then_gunicorn_gets_them(make_settings):
    settings = make_settings(**{"server.host": "0.0.0.0", "server.port": 9100, "server.workers": 3,
                                "server.threads": 7})

    argv = gunicorn_argv(settings, ["--timeout", "5"])

    assert argv[argv.index("--bind") + 1] == "0.0.0.0:9100"
    assert argv[argv.index("--workers") + 1] == "3" and argv[argv.index("--threads") + 1] == "7"
    assert argv[-2:] == ["--timeout", "5"]


def test_given_the_seed_port_variable_when_the_web_process_starts_then_it_listens_there(settings, database):
    # Given the seed's PORT variable (an alias of server.port), one small gunicorn process
    port = free_port()
    env = {**settings_environ(settings), "PORT": str(port), "MCPS_SERVER__WORKERS": "1", "MCPS_SERVER__THREADS": "4"}
    process = subprocess.Popen([sys.executable, "-m", "api.serve"], cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # When it is up, Then the API answers on that port
        wait_for(lambda: listening(port) or process.poll() is not None, timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/system/health", timeout=5) as response:
            assert json.loads(response.read())["checks"]["database"]["ok"] is True
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
