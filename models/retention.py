"""Retention: rows and files older than their setting are deleted, in batches, with counts.

Each batch is its own short transaction (`data.cleanup.batch_size` rows chosen by primary key, then
deleted by key), so PostgreSQL never holds a long lock on a table and SQLite's single writer is free
between batches. Metric samples younger than keep_days but older than monitoring.raw_keep_hours are not
deleted here but rolled up into hourly rows (models.rollups), which this deletes after keep_days. Result streams need nothing here: each expires by itself (mcp.jobs.result_ttl_s).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

import peewee

from config import Section
from models.base import db, utcnow
from models.backups import temp_dir
from models.logs import LogEntry
from models.metrics import MetricRollup, MetricSample
from models.sessions import Message, Session
from models.tasks import FINAL_STATUSES, Task

log = logging.getLogger("mcps.retention")


def delete_in_batches(model: type[peewee.Model], condition, batch_size: int) -> int:
    """Delete the rows matching `condition`, `batch_size` at a time; returns how many."""
    key = model._meta.primary_key
    deleted = 0
    while True:
        with db.atomic():
            ids = [row[0] for row in model.select(key).where(condition).order_by(key).limit(batch_size).tuples()]
            if ids:
                model.delete().where(key.in_(ids)).execute()
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted


def delete_idle_sessions(cutoff: datetime, batch_size: int) -> tuple[int, int]:
    """Sessions idle since before `cutoff`, and their messages first; returns (sessions, messages)."""
    sessions = messages = 0
    while True:
        ids = [row[0] for row in Session.select(Session.id).where(Session.last_activity_at < cutoff)
               .order_by(Session.id).limit(batch_size).tuples()]
        if not ids:
            return sessions, messages
        messages += delete_in_batches(Message, Message.session.in_(ids), batch_size)
        with db.atomic():
            sessions += Session.delete().where(Session.id.in_(ids)).execute()
        if len(ids) < batch_size:
            return sessions, messages


def delete_old_files(directory: Path, older_than: timedelta) -> int:
    cutoff = time.time() - older_than.total_seconds()
    deleted = 0
    for path in directory.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            continue
    return deleted


def run_retention(settings: Section, now: datetime | None = None) -> dict[str, int]:
    """Apply every retention setting once; returns {what: rows or files deleted}."""
    now = now or utcnow()
    cleanup, batch = settings.data.cleanup, settings.data.cleanup.batch_size
    counts = {
        "logs": delete_in_batches(
            LogEntry, LogEntry.created_at < now - timedelta(days=settings.logging.retention_days), batch),
        "history": delete_in_batches(
            Message, Message.created_at < now - timedelta(days=cleanup.history_days), batch),
        "tasks": delete_in_batches(
            Task, Task.status.in_(FINAL_STATUSES) & (Task.created_at < now - timedelta(days=cleanup.tasks_days)), batch),
        "metric_samples": delete_in_batches(
            MetricSample, MetricSample.created_at < now - timedelta(days=settings.monitoring.keep_days), batch),
        "metric_rollups": delete_in_batches(
            MetricRollup, MetricRollup.hour < now - timedelta(days=settings.monitoring.keep_days), batch),
    }
    counts["sessions"], session_messages = delete_idle_sessions(now - timedelta(days=cleanup.sessions_days), batch)
    counts["history"] += session_messages
    counts["temp_files"] = delete_old_files(temp_dir(settings), timedelta(hours=cleanup.temp_files_hours))
    log.info("event=retention.done %s", " ".join(f"{name}={count}" for name, count in counts.items()))
    return counts
