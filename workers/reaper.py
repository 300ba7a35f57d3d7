"""Clean up after a worker that died (even by SIGKILL): its children, its queue, its in-flight calls.

Any live worker may reap a dead one (a short Redis lock makes sure only one does). The dead worker's
children are found through the pidfiles it left in `<data_dir>/run/<worker_id>/` and killed with
their whole process group; jobs still in its queue or unacknowledged are failed with a clear error,
never re-run (tool calls are at-most-once).
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
from workers import registry, stream
from workers.redis_client import key

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


def orphaned_jobs(client: redis.Redis, broker: dramatiq.Broker, worker_id: str) -> list[dict]:
    """Jobs sent to the dead worker's queue: still queued, or taken but never acknowledged."""
    queue = registry.worker_queue(worker_id)
    namespace = broker.namespace
    ids = set(client.lrange(f"{namespace}:{queue}", 0, -1))
    for ack_key in client.scan_iter(f"{namespace}:__acks__.*.{queue}"):
        ids.update(client.smembers(ack_key))
    if not ids:
        return []
    jobs = []
    for raw in client.hmget(f"{namespace}:{queue}.msgs", list(ids)):
        if raw:
            message = dramatiq.Message.decode(raw)
            if message.args:
                jobs.append(message.args[0])
    return jobs


def drop_queue(client: redis.Redis, broker: dramatiq.Broker, worker_id: str) -> None:
    queue = registry.worker_queue(worker_id)
    namespace = broker.namespace
    keys = [f"{namespace}:{queue}", f"{namespace}:{queue}.msgs", f"{namespace}:{queue}.wake",
            f"{namespace}:{queue}.DQ", f"{namespace}:{queue}.DQ.msgs", f"{namespace}:{queue}.DQ.wake",
            f"{namespace}:{queue}.XQ", f"{namespace}:{queue}.XQ.msgs"]
    keys += list(client.scan_iter(f"{namespace}:__acks__.*.{queue}*"))
    client.delete(*keys)


def reap(client: redis.Redis, broker: dramatiq.Broker, settings: Section, worker_id: str,
         record_failure) -> dict:
    """Reap one dead worker; `record_failure(job, event)` writes the failed task row."""
    lock = key(settings, "reap", worker_id)
    if not client.set(lock, 1, nx=True, ex=30):
        return {}
    killed = kill_process_groups(Path(settings.app.data_dir) / "run" / worker_id)
    failed = 0
    for job in orphaned_jobs(client, broker, worker_id):
        if job.get("kind") == "cancel" or stream.final_event(client, settings, job["id"]):
            continue
        event = {"type": stream.FINAL_EVENT, "status": "failed", "error_type": "worker_lost",
                 "error": f"worker {worker_id} died before answering; the job was not retried"}
        stream.publish_now(client, settings, job["id"], event)
        record_failure(job, event)
        failed += 1
    drop_queue(client, broker, worker_id)
    registry.forget(client, settings, worker_id)
    log.warning("event=worker.reaped worker=%s killed_pids=%s failed_jobs=%d", worker_id, json.dumps(killed), failed)
    return {"killed": killed, "failed_jobs": failed}
