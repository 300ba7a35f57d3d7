"""A graceful rolling restart of the workers (POST /api/v1/system/restart), as jobs.

`rolling_restart` runs on one worker and restarts the others one at a time: each gets a `worker_restart`
job on its own queue and leaves as on SIGTERM (new jobs stop, calls in flight finish, its tools are
stopped and their leases released, jobs still queued for it go back to the shared queue); the worker
supervisor (workers/supervisor.py) starts a new process in its place, and the live workers take the
tools over. The next worker goes only once the number of live workers is back. The orchestrating
worker restarts itself last, after its reply.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

from jobs import registry
from jobs.events import ErrorType, JobError
from jobs.job import Job
from workers.runtime import WorkerRuntime

log = logging.getLogger("mcps.worker")
REPLACEMENT_TIMEOUT_S = 90.0
LEAVE_AFTER_REPLY_S = 0.3


def leave_soon(runtime: WorkerRuntime) -> None:
    """Ask this process's Dramatiq main process (our parent) for a graceful stop, once the reply is out:
    it stops its worker process as on SIGTERM and exits, and the supervisor replaces it."""
    def leave() -> None:
        time.sleep(LEAVE_AFTER_REPLY_S)
        log.warning("event=worker.restarting worker=%s pid=%d", runtime.id, os.getpid())
        os.kill(os.getppid(), signal.SIGTERM)
    threading.Thread(target=leave, name="restart", daemon=True).start()


def worker_restart(job: Job, runtime: WorkerRuntime) -> dict:
    if job.args.get("worker_id") != runtime.id:  # handed back to the shared queue: its worker is gone already
        return {"worker": job.args.get("worker_id"), "skipped": "not this worker"}
    leave_soon(runtime)
    return {"worker": runtime.id, "pid": os.getpid()}


def live_ids(runtime: WorkerRuntime) -> set[str]:
    return {worker["id"] for worker in registry.live_workers(runtime.redis, runtime.settings)}


def restart_one(runtime: WorkerRuntime, worker_id: str, wanted: int) -> None:
    """Restart another worker and wait for it to be gone and `wanted` workers to be live again."""
    order = Job(kind="worker_restart", args={"worker_id": worker_id}, record=False)
    runtime.jobs.submit(order, registry.worker_queue(worker_id))
    runtime.jobs.wait(order.id, REPLACEMENT_TIMEOUT_S)
    deadline = time.monotonic() + REPLACEMENT_TIMEOUT_S
    while time.monotonic() < deadline:
        live = live_ids(runtime)
        if worker_id not in live and len(live) >= wanted:
            return
        time.sleep(0.2)
    raise JobError(f"worker {worker_id} was not replaced within {REPLACEMENT_TIMEOUT_S:g} s: is it run by the "
                   "supervisor (python -m workers)?", ErrorType.TIMEOUT)


def rolling_restart(job: Job, runtime: WorkerRuntime) -> dict:
    others = sorted(live_ids(runtime) - {runtime.id})
    wanted = len(others) + 1
    restarted = []
    for worker_id in others:
        restart_one(runtime, worker_id, wanted)
        restarted.append(worker_id)
        log.info("event=worker.replaced worker=%s by=%s", worker_id, runtime.id)
    leave_soon(runtime)
    return {"restarted": restarted + [runtime.id], "last": runtime.id}
