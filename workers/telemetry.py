"""The worker's share of the Prometheus counters (jobs.telemetry): finished jobs, counted from the
bookkeeper's thread in one pipelined round trip per batch, after the replies went out; and the batch's
live events (jobs.live_events), sent from there too."""
from __future__ import annotations

import logging

import redis

from config import Section
from jobs import live_events, telemetry
from workers.bookkeeping import LiveEvent
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


def publish_live(client: redis.Redis, settings: Section, items: list) -> None:
    """After the bookkeeper committed a batch: its live events in the order they were reported, each job it
    recorded told as its task's `finished` event (after that task's start and progress), in one round trip."""
    events = [item.event if isinstance(item, LiveEvent) else
              live_events.task_event(item.job, "finished", item.event["status"], outcome=outcome(item))
              for item in items]
    try:
        live_events.publish_many(client, settings, [live_events.encode(*event) for event in events])
    except redis.RedisError as error:  # best effort: what they tell is stored
        log.warning("event=live_event.publish_failed events=%d error=%r", len(events), str(error))
