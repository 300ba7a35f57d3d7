"""Clean up after a worker that died (even by SIGKILL): its children, its queue, its in-flight calls.

Any live worker may reap a dead one (a short Redis lock makes sure only one does). The dead worker's
children are found through the pidfiles it left in `<data_dir>/run/<worker_id>/` and killed with
their whole process group. Lifecycle jobs it never started, or started and never finished, being
idempotent, are sent again to the shared queue; calls, started or still queued for it, are failed with a
clear error and never run elsewhere (tool calls are at-most-once, and their callers read worker_lost).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from pathlib import Path

import dramatiq
import psutil
import redis

from config import Section
from jobs import events, lost, registry, stream
from jobs.client import JobClient
from jobs.events import ErrorType
from jobs.job import CALL_KINDS, CANCEL_KIND, LIFECYCLE_KINDS, LIFECYCLE_QUEUE, Job
from jobs.keys import key
from models import Task, utcnow
from models.log_sink import SYSTEM
from workers.history import lost_task_row

log = logging.getLogger("mcps.reaper")


def kill_process_groups(run_dir: Path) -> list[int]:
    """SIGKILL the process group of every pid recorded in run_dir; returns the pids killed."""
    killed = []
    for pidfile in run_dir.glob("*.pid"):
        try:
            pid = int(pidfile.read_text())
        except (OSError, ValueError):
            continue
        if psutil.pid_exists(pid):
            try:
                os.killpg(pid, signal.SIGKILL)  # the guard started a new session: pgid == pid
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
    shutil.rmtree(run_dir, ignore_errors=True)
    return killed


def hand_back_queued(client: redis.Redis, broker, settings: Section, worker_id: str, record_failure,
                     leaving: bool = False) -> tuple[int, int]:
    """Jobs still waiting in a worker's own queue were never started. Lifecycle and maintenance jobs go to the
    shared lifecycle queue (whose worker claims the tool if nobody owns it any more). Calls of a dead worker
    are failed with worker_lost instead: their callers wait on it, and once its heartbeat key is gone they
    read worker_lost themselves, so a call run elsewhere afterwards would be one its caller was told was lost
    (and may send again). A worker `leaving` gracefully is still alive: it tells each call's caller that the
    call moved (a handed_back event) before its heartbeat goes, and passes the calls on too.
    Returns (handed back, failed)."""
    direct = broker.direct_key(registry.worker_queue(worker_id))
    jobs = JobClient(broker, client, settings)
    moved = failed = 0
    while (raw := client.lpop(direct)) is not None:
        job = dramatiq.Message.decode(raw).args[0]
        if job.get("kind") == CANCEL_KIND:
            continue
        if job.get("kind") in CALL_KINDS and leaving:
            stream.publish_now(client, settings, job["id"], events.handed_back(worker_id))
        elif job.get("kind") in CALL_KINDS:
            if not stream.final_event(client, settings, job["id"]):
                event = events.failed(ErrorType.WORKER_LOST, f"worker {worker_id} went away before it started "
                                                             "this call; it was not run")
                stream.publish_now(client, settings, job["id"], event)
                record_failure(job, event)
            failed += 1
            continue
        jobs.submit(Job.from_dict(job), LIFECYCLE_QUEUE)
        moved += 1
    return moved, failed


def taken_from_lifecycle(client: redis.Redis, broker, worker_id: str) -> list[dict]:
    """Jobs the dead worker took from the lifecycle queue and never acknowledged. They are removed
    here so that Dramatiq won't redeliver them blindly: the reaper decides what to do with each."""
    acks = f"{broker.namespace}:__acks__.{worker_id}.{LIFECYCLE_QUEUE}"
    message_ids = list(client.smembers(acks))
    jobs = []
    if message_ids:
        messages_key = f"{broker.namespace}:{LIFECYCLE_QUEUE}.msgs"
        jobs = [dramatiq.Message.decode(raw).args[0] for raw in client.hmget(messages_key, message_ids) if raw]
        client.hdel(messages_key, *message_ids)
        client.delete(acks)
    return jobs


def drop_queue(client: redis.Redis, broker, worker_id: str) -> None:
    queue = registry.worker_queue(worker_id)
    client.delete(broker.direct_key(queue), f"{broker.namespace}:{queue}.DQ", f"{broker.namespace}:{queue}.DQ.msgs",
                  broker.wake_key(f"{queue}.DQ"), f"{broker.namespace}:{queue}.DQ.XQ",
                  f"{broker.namespace}:{queue}.DQ.XQ.msgs", *client.scan_iter(f"{broker.namespace}:__acks__.{worker_id}.*"))


def reap(client: redis.Redis, broker: dramatiq.Broker, settings: Section, worker_id: str,
         record_failure) -> dict:
    """Reap one dead worker; `record_failure(job, event)` writes the failed task row."""
    lock = key(settings, "reap", worker_id)
    if not client.set(lock, 1, nx=True, ex=30):
        return {}
    killed = kill_process_groups(Path(settings.app.data_dir) / "run" / worker_id)
    handed_back, failed = hand_back_queued(client, broker, settings, worker_id, record_failure)
    for job in taken_from_lifecycle(client, broker, worker_id):
        if job.get("kind") == CANCEL_KIND or stream.final_event(client, settings, job["id"]):
            continue
        if job.get("kind") in LIFECYCLE_KINDS:  # idempotent: another worker does it
            JobClient(broker, client, settings).submit(Job.from_dict(job), LIFECYCLE_QUEUE)
            continue
        event = events.failed(ErrorType.WORKER_LOST, f"worker {worker_id} died before answering; the job was not retried")
        stream.publish_now(client, settings, job["id"], event)
        record_failure(job, event)
        failed += 1
    failed += fail_recorded_in_flight(client, settings, worker_id)
    drop_queue(client, broker, worker_id)
    registry.forget(client, settings, worker_id)
    log.warning("event=worker.reaped worker=%s killed_pids=%s failed_jobs=%d handed_back=%d",
                worker_id, json.dumps(killed), failed, handed_back, extra=SYSTEM)
    return {"killed": killed, "failed_jobs": failed, "handed_back": handed_back}


def fail_recorded_in_flight(client: redis.Redis, settings: Section, worker_id: str) -> int:
    """Async jobs have a task row naming their worker: fail those the dead worker never finished."""
    failed = 0
    for task in Task.select().where((Task.worker_id == worker_id) & Task.status.in_(("queued", "running"))):
        error = f"worker {worker_id} died before answering; the job was not retried"
        if not stream.final_event(client, settings, task.id):
            stream.publish_now(client, settings, task.id, events.failed(ErrorType.WORKER_LOST, error))
        Task.update(status="failed", error_type="worker_lost", error=error, finished_at=utcnow()).where(
            Task.id == task.id).execute()
        failed += 1
    return failed


def record_lost_calls(client: redis.Redis, settings: Section, write) -> int:
    """Failed task rows for the calls whose callers read worker_lost (jobs/lost.py), through `write` (the
    bookkeeper's). A row already there is left as it is: the worker was not dead after all and recorded
    the call's real outcome."""
    rows = [lost_task_row(entry["job"], entry["event"], entry["worker_id"]) for entry in lost.take_all(client, settings)]
    if rows:
        write(lambda: Task.insert_many(rows).on_conflict_ignore().execute())
        log.warning("event=calls.lost_recorded count=%d", len(rows), extra=SYSTEM)
    return len(rows)
