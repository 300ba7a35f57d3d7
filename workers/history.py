"""Task rows and call history, written in batches by the bookkeeper after the replies went out.

A busy worker answers hundreds of calls a second; writing each one's task row, message and session
update as separate statements cost about a millisecond of the worker's CPU per call. Batches of
records become one multi-row upsert of tasks, one multi-row insert of messages, one session update.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from models import Message, Session, Task, db, utcnow
from models.fastget import compiled_sql, get_by, insert_rows

RESULT_SUMMARY_CHARS = 500
STORED_RESULT_CHARS = 256 * 1024
ROWS_PER_STATEMENT = 100
TASK_RESULT_FIELDS = [Task.status, Task.result, Task.error, Task.error_type, Task.worker_id, Task.started_at,
                      Task.finished_at, Task.duration_ms]


@dataclass(frozen=True)
class JobRecord:
    job: dict  # the Job as sent (jobs.Job fields)
    event: dict  # its final event
    worker_id: str
    started: float | None
    finished: float


_auto_sessions: dict[int, int] = {}  # user id -> their automatic session (per worker process)


def write_records(records: list[JobRecord], auto_session: bool = True) -> None:
    """Upsert the task row of each record and add a message to a session for each call (a call made
    without a session goes to its user's automatic session, or stays out of the history when
    features.auto_session is off)."""
    task_rows = [_task_row(record) for record in records]
    for start in range(0, len(task_rows), ROWS_PER_STATEMENT):
        insert_rows(Task, task_rows[start:start + ROWS_PER_STATEMENT], Task.id, TASK_RESULT_FIELDS)
    messages = [_message_row(record, row, auto_session) for record, row in zip(records, task_rows)
                if record.job["kind"] == "call"]
    messages = [message for message in messages if message["session"] is not None]
    for start in range(0, len(messages), ROWS_PER_STATEMENT):
        insert_rows(Message, messages[start:start + ROWS_PER_STATEMENT])
    sessions = sorted({message["session"] for message in messages})
    if sessions:
        _touch_sessions(sessions)


def _touch_sessions(session_ids: list[int]) -> None:
    """Sessions' last activity is now (SQL compiled once per number of sessions)."""
    now = utcnow()
    sql = compiled_sql(("touch sessions", len(session_ids)), lambda: Session.update(
        last_activity_at=now, updated_at=now).where(Session.id.in_(session_ids)).sql()[0])
    stamp = Session.last_activity_at.db_value(now)
    db.obj.execute_sql(sql, [stamp, stamp, *session_ids])


def lost_task_row(job: dict, event: dict, worker_id: str | None) -> dict:
    """The failed task row of a call its worker died with (noted by its caller: jobs/lost.py)."""
    return _task_row(JobRecord(job, event, worker_id, None, time.time()))


def _task_row(record: JobRecord) -> dict:
    job, event = record.job, record.event
    result = event.get("result")
    if result is not None and len(str(result)) > STORED_RESULT_CHARS:
        result = {"truncated": True, "note": f"result larger than {STORED_RESULT_CHARS} characters"}
    return {
        "id": job["id"], "kind": job["kind"], "tool_id": job.get("tool_id"), "user_id": job.get("user_id"),
        "session_id": job.get("session_id"), "parent_id": job.get("parent_id"), "status": event["status"], "args": job.get("args"),
        "result": result, "error": event.get("error"), "error_type": event.get("error_type"),
        "worker_id": record.worker_id, "created_at": _utc(job["submitted_at"]),
        "started_at": _utc(record.started) if record.started else None, "finished_at": _utc(record.finished),
        "duration_ms": round((record.finished - record.started) * 1000, 3) if record.started else None,
    }


def _message_row(record: JobRecord, task_row: dict, auto_session: bool) -> dict:
    job, event = record.job, record.event
    result = event.get("result") if isinstance(event.get("result"), dict) else {}
    succeeded = event["status"] == "succeeded"
    session = job.get("session_id") or (_auto_session(job.get("user_id")) if auto_session else None)
    return {
        "session": session, "user_id": job.get("user_id"),
        "tool_id": job.get("tool_id"), "tool_name": job["args"].get("tool", ""),
        "arguments": job["args"].get("arguments"), "status": event["status"],
        "result_summary": _summary(result.get("content")) if succeeded else event.get("error"),
        "is_error": bool(result.get("isError")), "duration_ms": task_row["duration_ms"], "task_id": job["id"],
        "created_at": task_row["finished_at"],
    }


def _summary(content) -> str:
    """The result's content as JSON (what clients parse), cut at RESULT_SUMMARY_CHARS."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)[:RESULT_SUMMARY_CHARS]


def _auto_session(user_id: int | None) -> int | None:
    """Calls made without a session go to the user's automatic session."""
    if user_id is None:
        return None
    session_id = _auto_sessions.get(user_id)
    if session_id is None or get_by(Session, Session.id, session_id) is None:
        session = (Session.select().where((Session.user_id == user_id) & (Session.is_auto == True))  # noqa: E712
                   .order_by(Session.id).first())
        if session is None:
            session = Session.create(user_id=user_id, is_auto=True, name="Automatic session")
        session_id = _auto_sessions[user_id] = session.id
    return session_id


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
