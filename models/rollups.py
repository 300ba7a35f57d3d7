"""Down-sampling: metric samples older than monitoring.raw_keep_hours become hourly roll-ups.

Each batch is one short transaction: up to `data.cleanup.batch_size` samples (oldest first) are read,
folded into the roll-up row of their (source, tool, hour) — created, or merged with the one an earlier
batch wrote: averages weighted by their sample counts, maxima the larger — and deleted. A sample is
thus counted exactly once, whichever batch it falls in. Batches are serialised between processes (an
immediate transaction on SQLite, an advisory lock on PostgreSQL), so two retention runs at once
neither count a sample twice nor write two rows for one hour.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import peewee

from models.base import db
from models.metrics import MetricRollup, MetricSample

log = logging.getLogger("mcps.retention")
ADVISORY_LOCK = 7140107  # PostgreSQL: one roll-up batch at a time, across processes


def numbers(data: dict, prefix: str = "") -> dict[str, float]:
    """The numeric fields of a sample, nested ones as `a.b` (text, flags and lists are left out)."""
    out: dict[str, float] = {}
    for name, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[prefix + name] = value
        elif isinstance(value, dict):
            out.update(numbers(value, f"{prefix}{name}."))
    return out


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def raw_cutoff(now: datetime, raw_keep_hours: int) -> datetime:
    """Samples before this are rolled up: whole hours only, so that no hour is split between the tiers."""
    return hour_of(now - timedelta(hours=raw_keep_hours))


class Group:
    """The figures of one (source, tool, hour), or of one point of a series: the number of samples, and
    by field the sum, the number of samples that had it (a tool's cpu_percent is missing just after a
    start) and the maximum."""

    def __init__(self):
        self.samples = 0
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.maxima: dict[str, float] = {}

    @classmethod
    def of_sample(cls, data: dict) -> "Group":
        group = cls()
        group.add(data)
        return group

    @classmethod
    def of_rollup(cls, rollup: MetricRollup) -> "Group":
        group = cls()
        group.samples = rollup.samples
        group.counts = {name: (rollup.partial or {}).get(name, rollup.samples) for name in rollup.data}
        group.sums = {name: average * group.counts[name] for name, average in rollup.data.items()}
        group.maxima = dict(rollup.maxima)
        return group

    def add(self, data: dict) -> None:
        self.samples += 1
        for name, value in numbers(data).items():
            self.sums[name] = self.sums.get(name, 0.0) + value
            self.counts[name] = self.counts.get(name, 0) + 1
            self.maxima[name] = max(self.maxima.get(name, value), value)

    def merge(self, other: "Group") -> None:
        self.samples += other.samples
        for name, total in other.sums.items():
            self.sums[name] = self.sums.get(name, 0.0) + total
            self.counts[name] = self.counts.get(name, 0) + other.counts[name]
        for name, value in other.maxima.items():
            self.maxima[name] = max(self.maxima.get(name, value), value)

    def averages(self) -> dict[str, float]:
        return {name: total / self.counts[name] for name, total in self.sums.items()}

    def partial(self) -> dict[str, int]:
        """The fields some samples lacked, with how many had them (stored so that merging stays exact)."""
        return {name: count for name, count in self.counts.items() if count != self.samples}


def _transaction():
    if isinstance(db.obj, peewee.SqliteDatabase):
        return db.atomic("IMMEDIATE")  # the write lock first: the rows read are the rows deleted
    return db.atomic()


def _roll_up_batch(cutoff: datetime, batch_size: int) -> tuple[int, int]:
    """One batch; returns (samples rolled up, roll-up rows written)."""
    with _transaction():
        if isinstance(db.obj, peewee.PostgresqlDatabase):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
        rows = list(MetricSample.select(MetricSample.id, MetricSample.source, MetricSample.tool_id,
                                        MetricSample.created_at, MetricSample.data)
                    .where(MetricSample.created_at < cutoff).order_by(MetricSample.id).limit(batch_size))
        if not rows:
            return 0, 0
        groups: dict[tuple, Group] = {}
        for row in rows:
            groups.setdefault((row.source, row.tool_id, hour_of(row.created_at)), Group()).add(row.data)
        for (source, tool_id, hour), group in groups.items():
            same_tool = MetricRollup.tool_id.is_null() if tool_id is None else MetricRollup.tool_id == tool_id
            existing = MetricRollup.get_or_none((MetricRollup.source == source) & (MetricRollup.hour == hour)
                                                & same_tool)
            if existing is None:
                MetricRollup.create(source=source, tool_id=tool_id, hour=hour, samples=group.samples,
                                    data=group.averages(), maxima=group.maxima, partial=group.partial())
                continue
            merged = Group.of_rollup(existing)
            merged.merge(group)
            existing.samples, existing.data, existing.maxima = merged.samples, merged.averages(), merged.maxima
            existing.partial = merged.partial()
            existing.save()
        MetricSample.delete().where(MetricSample.id.in_([row.id for row in rows])).execute()
        return len(rows), len(groups)


def roll_up_samples(now: datetime, raw_keep_hours: int, batch_size: int) -> dict[str, int]:
    """Fold every sample older than the raw period into its hourly roll-up, batch by batch; returns
    {"samples": samples rolled up (and deleted), "rollups": roll-up rows written (created or merged into)}."""
    cutoff = raw_cutoff(now, raw_keep_hours)
    samples = rollups = 0
    while True:
        rolled, written = _roll_up_batch(cutoff, batch_size)
        samples, rollups = samples + rolled, rollups + written
        if rolled < batch_size:
            break
    if samples:
        log.info("event=metrics.rolled_up samples=%d rollups=%d before=%s", samples, rollups, cutoff.isoformat())
    return {"samples": samples, "rollups": rollups}
