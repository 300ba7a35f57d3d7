"""The worker's share of the Prometheus counters (jobs.telemetry): finished jobs, counted from the
bookkeeper's thread in one pipelined round trip per batch, after the replies went out."""
from __future__ import annotations

import logging

import redis

from config import Section
from jobs import live_events, telemetry
from workers.history import JobRecord

log = logging.getLogger("mcps.worker.telemetry")


def outcome(record: JobRecord) -> str:
    """The job's status, except a call the tool answered with an error result: `tool_error`."""
    result = record.event.get("result")
    if record.event["status"] == "succeeded" and isinstance(result, dict) and result.get("isError"):
        return "tool_error"
    return record.event["status"]


def count_jobs(client: redis.Redis, settings: Section, records: list[JobRecord]) -> None:
    finished = [(record.job["kind"], record.job.get("tool_id"), outcome(record),
                 record.finished - record.started if record.started else None) for record in records]
    try:
        telemetry.add(client, settings, telemetry.job_increments(finished))
    except redis.RedisError as error:  # a missed count, never a missed task row
        log.warning("event=telemetry.count_failed jobs=%d error=%r", len(records), str(error))


def record_finished(client: redis.Redis, settings: Section, live: live_events.Publisher,
                    records: list[JobRecord]) -> None:
    """After the bookkeeper wrote a batch: count the jobs and tell the live events they finished (after the
    events of their start and progress: one publisher keeps them in order)."""
    count_jobs(client, settings, records)
    for r in records:
        live.put(*live_events.task_event(r.job, "finished", r.event["status"], outcome=outcome(r)))
