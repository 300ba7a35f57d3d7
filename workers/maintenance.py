"""The worker's side of maintenance jobs (jobs.job.MAINTENANCE_KINDS): one handler per kind.

The scheduler (or an admin through the API) decides when; the work runs here, on any worker, and its
task row records the outcome and duration like any other job's.
"""
from __future__ import annotations

from typing import Callable

from jobs.events import ErrorType, JobError
from jobs.job import Job
from models.backups import BackupError, BackupRefused, NoSuchBackup
from models.dumps import create_backup, restore_backup
from models import Task
from models.base import utcnow
from models.retention import run_retention
from models.rollups import roll_up_samples
from workers.alerts import evaluate_alerts
from workers.health import probe_round, probe_tool
from workers.metrics import sample_metrics
from workers.notify import deliver_notification, notify_alert
from workers.restart import rolling_restart, worker_restart
from workers.runtime import WorkerRuntime


def backup(job: Job, runtime: WorkerRuntime) -> dict:
    return create_backup(runtime.settings)


def restore(job: Job, runtime: WorkerRuntime) -> dict:
    """The backup predates this restore's own task row: it is put back at once, so that whoever follows
    the task (GET /tasks/{id}) sees it running, not gone, until its outcome is written."""
    own_row = Task.get_or_none(Task.id == job.id)
    restored = restore_backup(runtime.settings, job.args.get("name"))
    if own_row is not None:
        Task.insert(own_row.__data__).on_conflict_ignore().execute()
    return restored


def retention(job: Job, runtime: WorkerRuntime) -> dict:
    """Delete what is past its keep period, then fold the metric samples past the raw period into hourly
    roll-ups (in that order: nothing is rolled up only to be deleted)."""
    settings, now = runtime.settings, utcnow()
    deleted = run_retention(settings, now)
    rolled_up = roll_up_samples(now, settings.monitoring.raw_keep_hours, settings.data.cleanup.batch_size)
    return {"deleted": deleted, "rolled_up": rolled_up}


def metric_sample(job: Job, runtime: WorkerRuntime) -> dict:
    return sample_metrics(runtime)


HANDLERS: dict[str, Callable[[Job, WorkerRuntime], dict]] = {
    "backup": backup,
    "restore": restore,
    "retention": retention,
    "metric_sample": metric_sample,
    "health_probe": probe_round,
    "probe_tool": probe_tool,
    "alert_evaluate": evaluate_alerts,
    "notify_alert": notify_alert,
    "deliver_notification": deliver_notification,
    "rolling_restart": rolling_restart,
    "worker_restart": worker_restart,
}


def run_maintenance(job: Job, runtime: WorkerRuntime) -> dict:
    try:
        return HANDLERS[job.kind](job, runtime)
    except NoSuchBackup as error:
        raise JobError(str(error), ErrorType.NOT_FOUND) from None
    except BackupRefused as error:
        raise JobError(str(error), ErrorType.BAD_REQUEST) from None
    except BackupError as error:  # the platform's side (a missing pg_dump, a full disk): the message says
        raise JobError(str(error), ErrorType.INTERNAL) from None
