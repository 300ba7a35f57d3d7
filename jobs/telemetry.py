"""Counters for Prometheus that every process adds to and any API process reads: kept in Redis hashes.

Why Redis and not prometheus-client's multiprocess mode: that mode aggregates files in one directory of
one host, for the processes of one gunicorn; our calls are counted by Dramatiq worker processes (which a
supervisor restarts, and which may run on other hosts) and answered by several gunicorn processes. A
hash field per (labels) summed by HINCRBY is correct for any number of processes anywhere, survives a
restart of any of them (a counter never goes back, as Prometheus expects), and costs one pipelined
round trip per batch: workers add from their bookkeeper's thread after the replies went out, web
processes buffer in memory and flush once a second (BufferedCounters), never in a request.

    <ns>:metrics:calls          "<tool_id>|<status>"          -> calls finished
    <ns>:metrics:call_latency   "<tool_id>|<le>" "|sum" "|count" -> cumulative histogram of call durations (s)
    <ns>:metrics:jobs           "<kind>|<status>"             -> jobs finished (every kind)
    <ns>:metrics:job_seconds    "<kind>"                      -> their total duration (s)
    <ns>:metrics:http           "<method>|<route>|<status>"   -> API requests answered
"""
from __future__ import annotations

import bisect
import logging
import os
import threading
from collections import Counter
from typing import Iterable

import redis

from config import Section
from jobs.keys import key

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FLUSH_INTERVAL_S = 1.0
FLOAT_HASHES = {"job_seconds"}
log = logging.getLogger("mcps.telemetry")


def metrics_key(settings: Section, name: str) -> str:
    return key(settings, "metrics", name)


def job_increments(finished: Iterable[tuple[str, int | None, str, float | None]]) -> dict[str, Counter]:
    """Hash increments for finished jobs given as (kind, tool_id, status, duration in s)."""
    increments = {name: Counter() for name in ("calls", "call_latency", "jobs", "job_seconds")}
    for kind, tool_id, status, duration_s in finished:
        increments["jobs"][f"{kind}|{status}"] += 1
        if duration_s is not None:
            increments["job_seconds"][kind] += duration_s
        if kind != "call":
            continue
        tool = "" if tool_id is None else str(tool_id)
        increments["calls"][f"{tool}|{status}"] += 1
        if duration_s is not None:
            latency = increments["call_latency"]
            for le in LATENCY_BUCKETS_S[bisect.bisect_left(LATENCY_BUCKETS_S, duration_s):]:
                latency[f"{tool}|{le}"] += 1
            latency[f"{tool}|+Inf"] += 1
            latency[f"{tool}|sum"] += duration_s
            latency[f"{tool}|count"] += 1
    return increments


def add(client: redis.Redis, settings: Section, increments: dict[str, Counter]) -> None:
    pipe = client.pipeline(transaction=False)
    for name, counts in increments.items():
        for field, amount in counts.items():
            if name in FLOAT_HASHES or field.endswith("|sum"):  # one type per field, or Redis refuses
                pipe.hincrbyfloat(metrics_key(settings, name), field, amount)
            else:
                pipe.hincrby(metrics_key(settings, name), field, int(amount))
    pipe.execute()


def read(client: redis.Redis, settings: Section, name: str) -> dict[str, float]:
    return {field.decode(): float(value) for field, value in client.hgetall(metrics_key(settings, name)).items()}


class BufferedCounters:
    """In-process increments of one hash, flushed to Redis by a thread once a second (started on first
    use, again in a forked child)."""

    def __init__(self, client: redis.Redis, settings: Section, name: str):
        self.client, self.settings, self.name = client, settings, name
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self._pid = None

    def add(self, field: str, amount: int = 1) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._lock:
            self._counts[field] += amount

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if counts:
            try:
                add(self.client, self.settings, {self.name: counts})
            except redis.RedisError as error:  # counted again next time rather than lost
                log.warning("event=telemetry.flush_failed error=%r", str(error))
                with self._lock:
                    self._counts.update(counts)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._counts = Counter()
        threading.Thread(target=self._run, name=f"telemetry-{self.name}", daemon=True).start()

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            threading.Event().wait(FLUSH_INTERVAL_S)
            self.flush()


def queue_depths(client: redis.Redis, settings: Section) -> dict[str, int]:
    """Jobs waiting in each queue: the shared lifecycle queue and every live worker's own."""
    from jobs import registry
    from jobs.job import LIFECYCLE_QUEUE
    from jobs.keys import broker_namespace

    prefix = broker_namespace(settings)
    queues = [LIFECYCLE_QUEUE] + [registry.worker_queue(w["id"]) for w in registry.live_workers(client, settings)]
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(f"{prefix}:{queue}")
        pipe.llen(f"{prefix}:{queue}.direct")
    lengths = pipe.execute()
    return {queue: lengths[2 * i] + lengths[2 * i + 1] for i, queue in enumerate(queues)}
