"""`python -m workers`: run the Dramatiq worker processes with the configured processes and threads."""
import os
import sys

from config import load_settings


def main() -> None:
    settings = load_settings()
    worker = settings.mcp.worker
    argv = [sys.executable, "-m", "dramatiq", "workers.main:setup", "--processes", str(worker.processes),
            "--threads", str(worker.threads), "--worker-shutdown-timeout", "20000"]
    os.execv(sys.executable, argv + sys.argv[1:])


if __name__ == "__main__":
    main()
