"""`python -m workers`: run the Dramatiq worker processes with the configured processes and threads.

Dramatiq's main process forwards SIGTERM to its worker processes, and a worker process that gets a
second SIGTERM exits at once, without stopping its tools or handing back its jobs. Process managers
(honcho, systemd) signal the whole process group, so each worker would get two. Dramatiq therefore
runs in a session of its own and this process relays one signal to it.
"""
import ctypes
import signal
import subprocess
import sys

from config import load_settings

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main() -> int:
    settings = load_settings()
    worker = settings.mcp.worker
    argv = [sys.executable, "-m", "dramatiq", "workers.main:setup", "--processes", str(worker.processes),
            "--threads", str(worker.threads), "--worker-shutdown-timeout", "20000", *sys.argv[1:]]
    dramatiq = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent)
    relayed = []

    def relay(signum, _frame):
        if not relayed:  # one is enough: Dramatiq takes it to every worker process
            relayed.append(signum)
            dramatiq.send_signal(signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, relay)
    return dramatiq.wait()


if __name__ == "__main__":
    sys.exit(main())
