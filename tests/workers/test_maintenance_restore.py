"""A restore replaces the whole database with a backup that predates the restore's own task row."""
from __future__ import annotations

from types import SimpleNamespace

from jobs.job import Job
from models import Task
from models.dumps import create_backup
from workers.maintenance import restore


def test_given_a_backup_when_it_is_restored_then_the_restores_own_task_row_is_still_there(settings, database):
    # Given a backup, then a task row written after it (the restore's own, as the API writes it first)
    name = create_backup(settings)["backup"]["name"]
    job = Job(kind="restore", args={"name": name}, user_id=None)
    Task.create(id=job.id, kind="restore", status="running", args={"name": name})
    Task.create(id="later", kind="call", status="succeeded")

    # When the worker restores the backup
    outcome = restore(job, SimpleNamespace(settings=settings))

    # Then what came after the backup is gone, except the restore's own task: its followers still find it
    assert outcome["restored"] == name
    assert Task.get_or_none(Task.id == "later") is None
    assert Task.get(Task.id == job.id).status == "running"
