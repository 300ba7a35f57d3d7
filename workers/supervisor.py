"""Keep N single-process Dramatiq workers running, whatever happens to one of them.

Dramatiq's own multi-process mode shuts every worker process down and exits as soon as one of them dies
(cli.py: "Worker ... exited unexpectedly. Shutting down..."); under honcho that stops the whole platform.
Here each worker process is a separate `dramatiq --processes 1` child in a session of its own, so a kill -9
of one (the OOM killer's way) ends only that child: it is started again, and meanwhile the live workers take
over its tools when its leases expire, as they do for any dead worker.

Signals: a process manager signals our whole process group, and a Dramatiq worker process that gets a
second SIGTERM exits at once without stopping its tools or handing back its jobs. The children are out of
our group, and we relay exactly one SIGTERM to each. A child that outlives us would hold tools nobody
supervises: each child gets SIGTERM from the kernel when we die (PR_SET_PDEATHSIG), and a dead child's
whole session is killed before it is replaced (a Dramatiq main process killed alone leaves its worker
process behind).
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from models.log_sink import SYSTEM

log = logging.getLogger("mcps.worker.supervisor")

PR_SET_PDEATHSIG = 1
POLL_INTERVAL_S = 0.1
STABLE_AFTER_S = 30.0  # a child that ran this long was not crash-looping: its next restart is immediate
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def restart_delay(quick_exits: int) -> float:
    """How long to wait before starting a slot again after `quick_exits` exits in a row, each soon after
    its start: the first restart is immediate, then back off (doubling) so a worker that cannot boot (Redis
    gone, a broken deploy) does not spin."""
    if quick_exits <= 1:
        return 0.0
    return min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (quick_exits - 2))


@dataclass
class Slot:
    """One of the N worker processes: the child running it now, and its recent history of exits."""
    index: int
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    start_after: float = field(default=0.0)


class WorkerSupervisor:
    def __init__(self, argv: list[str], processes: int):
        self.argv = argv
        self.slots = [Slot(index) for index in range(processes)]
        self.stopping = threading.Event()
        self._relayed = False

    def request_stop(self, signum: int, _frame=None) -> None:
        """Signal handler: stop for good. Only the first signal is relayed (see the module docstring)."""
        if not self.stopping.is_set():
            log.info("event=worker.supervisor_stopping signal=%s", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> int:
        """Supervise until a stop signal, then wait for every child; returns 0 when all stopped cleanly."""
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                for slot in self.slots:
                    if slot.process is None:
                        if now >= slot.start_after:
                            self._start(slot)
                    elif slot.process.poll() is not None:
                        self._reap(slot, now)
                self.stopping.wait(POLL_INTERVAL_S)
            return self._stop_children()
        finally:
            self._kill_leftovers()

    def pids(self) -> list[int]:
        return [slot.process.pid for slot in self.slots if slot.process and slot.process.poll() is None]

    def _start(self, slot: Slot) -> None:
        slot.process = subprocess.Popen(self.argv, start_new_session=True, preexec_fn=_die_with_parent)
        slot.started_at = time.monotonic()
        log.info("event=worker.process_started slot=%d pid=%d", slot.index, slot.process.pid)

    def _reap(self, slot: Slot, now: float) -> None:
        process, slot.process = slot.process, None
        _kill_session(process.pid)  # whatever of it is left: its Dramatiq worker process, if the main died
        slot.quick_exits = 0 if now - slot.started_at >= STABLE_AFTER_S else slot.quick_exits + 1
        delay = restart_delay(max(slot.quick_exits, 1))
        slot.start_after = now + delay
        log.warning("event=worker.process_exited slot=%d pid=%d rc=%s restart_in_s=%.1f",
                    slot.index, process.pid, process.returncode, delay, extra=SYSTEM)

    def _stop_children(self) -> int:
        running = [slot.process for slot in self.slots if slot.process and slot.process.poll() is None]
        if not self._relayed:
            self._relayed = True
            for process in running:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait() for process in running]
        log.info("event=worker.supervisor_stopped children=%d rcs=%s", len(running), ",".join(map(str, codes)))
        return next((code for code in codes if code), 0)

    def _kill_leftovers(self) -> None:
        for slot in self.slots:
            if slot.process is not None:
                _kill_session(slot.process.pid)


def _kill_session(pid: int) -> None:
    """SIGKILL what is left of a child's session (its group id is its pid: start_new_session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
