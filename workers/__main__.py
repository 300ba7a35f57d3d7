"""`python -m workers`: the Procfile's worker. Runs `mcp.worker.processes` single-process Dramatiq workers
(`dramatiq workers.main:setup --processes 1`) under a supervisor that starts again any that dies and exits
only on a stop signal (see workers/supervisor.py). Extra arguments are passed on to each Dramatiq child.
"""
import signal
import sys

from config import load_settings
from models import bind_database
from models.log_sink import setup_process_logging
from workers.supervisor import WorkerSupervisor

SHUTDOWN_TIMEOUT_MS = 20000  # how long a worker process lets its running jobs finish on SIGTERM


def dramatiq_argv(threads: int, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "dramatiq", "workers.main:setup", "--processes", "1", "--threads", str(threads),
            "--worker-shutdown-timeout", str(SHUTDOWN_TIMEOUT_MS), *extra]


def main() -> int:
    settings = load_settings()
    setup_process_logging(settings, "supervisor")
    bind_database(settings)  # its events (a worker process lost) are stored as system log entries
    worker = settings.mcp.worker
    supervisor = WorkerSupervisor(dramatiq_argv(worker.threads, sys.argv[1:]), worker.processes)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, supervisor.request_stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
