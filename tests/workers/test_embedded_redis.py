"""The embedded Redis process (`python -m workers.embedded_redis`, the Procfile's `redis`)."""
import os
import signal
import subprocess
import sys
import time

import redis

from tests.harness import ROOT


def test_given_connected_clients_when_stopped_then_redis_waits_for_them_to_leave(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MCPS_") and k != "REDIS_URL"},
           "MCPS_APP__DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "workers.embedded_redis"], cwd=ROOT, env=env,
                               start_new_session=True)
    client = redis.Redis.from_url(f"unix://{tmp_path}/redis.sock")
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except (redis.ConnectionError, FileNotFoundError):
            assert time.monotonic() < deadline
            time.sleep(0.05)

    os.killpg(process.pid, signal.SIGTERM)  # the whole group, as honcho and systemd do
    time.sleep(0.5)

    assert client.set("still", "up") and process.poll() is None  # a worker can still clean up
    client.close()
    assert process.wait(10) == 0
