"""`python -m api.serve`: the Procfile's web process. Reads server.host, server.port, server.workers and
server.threads from the settings (app.yaml, MCPS_SERVER__*, the seed's HOST / PORT) and becomes gunicorn
with them, so that those keys do what they say. Extra arguments are passed on to gunicorn.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from config import Section, load_settings

KEEP_ALIVE_S = 75


def gunicorn_argv(settings: Section, extra: list[str]) -> list[str]:
    server = settings.server
    return [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:api.gunicorn_conf", "api.wsgi:app",
            "--preload", "--bind", f"{server.host}:{server.port}", "--workers", str(server.workers),
            "--worker-class", "gthread", "--threads", str(server.threads), "--keep-alive", str(KEEP_ALIVE_S),
            "--control-socket", str(Path(settings.app.data_dir) / "gunicorn.ctl"), *extra]


def main() -> None:
    argv = gunicorn_argv(load_settings(), sys.argv[1:])
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
