"""Exec a tool's command so that it dies with the worker that spawned it.

Run as `python /path/to/child_guard.py PIDFILE COMMAND [ARGS...]` (a file path, not `-m`, so it works
from any cwd). It asks the kernel for SIGKILL when the parent dies (PR_SET_PDEATHSIG, which survives
execve), records its pid and start time in PIDFILE for the reaper (that covers grandchildren, which
share the process group), then becomes the command. Standard library only: it runs before anything else.
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    pidfile, command = sys.argv[1], sys.argv[2:]
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the reaper alone cleans up
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    with open(pidfile, "w") as handle:
        handle.write(str(os.getpid()))
    try:
        os.execvp(command[0], command)
    except OSError as error:  # the tool's stderr is its log: say plainly what could not run
        print(f"cannot run {command[0]!r}: {error.strerror}", file=sys.stderr, flush=True)
        sys.exit(127)


if __name__ == "__main__":
    main()
