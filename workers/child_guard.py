"""Exec a tool's command so that it dies with the worker that spawned it.

Run as `python /path/to/child_guard.py [--as UID:GID] PIDFILE COMMAND [ARGS...]` (a file path, not `-m`,
so it works from any cwd). It records its pid in PIDFILE for the reaper (that covers grandchildren, which
share the process group), changes to user UID / group GID when asked (workers/run_as.py: a root worker's
tools run unprivileged), asks the kernel for SIGKILL when the parent dies (PR_SET_PDEATHSIG, which
survives execve; set after the user change, which clears it), then becomes the command. Standard
library only: it runs before anything else.
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def drop_privileges(uid: int, gid: int) -> None:
    """Become uid/gid with no supplementary groups: groups and gid first, while still allowed."""
    try:
        os.setgroups([gid])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as error:
        print(f"cannot run as uid {uid}: {error.strerror}", file=sys.stderr, flush=True)
        sys.exit(126)
    if os.getuid() != uid or os.geteuid() != uid:  # never exec the tool still privileged
        print(f"cannot run as uid {uid}", file=sys.stderr, flush=True)
        sys.exit(126)


def main() -> None:
    args = sys.argv[1:]
    run_as = None
    if args[0] == "--as":
        run_as, args = tuple(int(part) for part in args[1].split(":")), args[2:]
    pidfile, command = args[0], args[1:]
    parent = os.getppid()
    with open(pidfile, "w") as handle:  # before the user change: the run directory is the worker's
        handle.write(str(os.getpid()))
    if run_as is not None:
        drop_privileges(*run_as)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the reaper alone cleans up
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    try:
        os.execvp(command[0], command)
    except OSError as error:  # the tool's stderr is its log: say plainly what could not run
        print(f"cannot run {command[0]!r}: {error.strerror}", file=sys.stderr, flush=True)
        sys.exit(127)


if __name__ == "__main__":
    main()
