"""Backups of the live database, on SQLite and PostgreSQL: taken consistently, restored in place (data
deleted after the backup comes back), pruned by age and count, and named only by their own pattern."""
from __future__ import annotations

import gzip
import os
from datetime import datetime, timedelta, timezone

import pytest

from models import Tool, User, db
from models.backups import BackupError, NoSuchBackup, backup_dir, backup_path, list_backups, new_name, prune
from models.dumps import create_backup, engine_of, restore_backup
from tests.conftest import bind_fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def any_settings(request, make_settings):
    """Settings on SQLite or on this run's PostgreSQL database, bound, migrated and empty."""
    if request.param == "postgres":
        settings = make_settings(**{"database.url": request.getfixturevalue("postgres_database")})
    else:
        settings = make_settings()
    database = bind_fresh_database(settings)
    yield settings
    database.close()


def test_given_data_when_backed_up_then_deleted_then_restored_the_data_is_back(any_settings):
    # Given a user and a tool (with an encrypted secret), and a backup of them
    User.create(username="ann", password_hash="x", role="admin")
    Tool.create(name="git", transport="stdio", command="uvx", env={"TOKEN": "s3cret"})
    created = create_backup(any_settings)
    name = created["backup"]["name"]
    assert [b.name for b in list_backups(any_settings)] == [name]
    assert created["backup"]["engine"] == engine_of(any_settings) and created["backup"]["compressed"]
    # ...and changes after it: the tool deleted, another user added
    Tool.delete().execute()
    User.create(username="bob", password_hash="x")

    # When the backup is restored while the platform's connection stays open
    restore_backup(any_settings, name)

    # Then the database is as it was at the backup, secrets readable with the same key
    db.close()
    assert [t.name for t in Tool.select()] == ["git"] and Tool.get().env == {"TOKEN": "s3cret"}
    assert [u.username for u in User.select()] == ["ann"]


def test_given_a_compressed_sqlite_backup_then_it_is_a_gzip_of_a_valid_database(settings, database):
    User.create(username="ann", password_hash="x")

    backup = backup_path(settings, create_backup(settings)["backup"]["name"])

    with gzip.open(backup.path, "rb") as packed:
        assert packed.read(16) == b"SQLite format 3\x00"
    assert oct(backup.path.stat().st_mode & 0o777) == "0o600"
    assert not any((backup_dir(settings).parent / "tmp").iterdir()), "no scratch file left behind"


def test_given_uncompressed_backups_configured_then_a_plain_file(make_settings):
    settings = make_settings(**{"data.backup.compress": False})
    bind_fresh_database(settings)

    name = create_backup(settings)["backup"]["name"]

    assert name.endswith(".sqlite3") and backup_path(settings, name).path.read_bytes()[:6] == b"SQLite"


def test_given_old_and_many_backups_when_pruned_then_only_recent_ones_within_the_count_stay(make_settings):
    settings = make_settings(**{"data.backup.keep_days": 10, "data.backup.max_count": 2})
    directory = backup_dir(settings)
    directory.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    names = [new_name("sqlite", True, now - timedelta(days=days)) for days in (0, 1, 2, 11)]
    for name in names:
        (directory / name).write_bytes(b"x")
    (directory / "notes.txt").write_text("not a backup: never touched")

    pruned = prune(settings, now)

    assert sorted(pruned) == sorted(names[2:])
    assert [b.name for b in list_backups(settings)] == names[:2]
    assert (directory / "notes.txt").exists()


@pytest.mark.parametrize("name", ["../mcps.db", "mcps.db", "/etc/passwd", "mcps-20260101T000000Z-abcdef.sqlite3/..",
                                  "mcps-20260101T000000Z-abcdef.sqlite3.gz\x00", ""])
def test_given_a_name_that_is_not_a_backup_name_then_no_such_backup(settings, name):
    backup_dir(settings).mkdir(parents=True)

    with pytest.raises(NoSuchBackup):
        backup_path(settings, name)


def test_given_postgresql_without_pg_dump_when_backing_up_then_the_error_names_the_missing_program(
        make_settings, postgres_database, monkeypatch, tmp_path):
    settings = make_settings(**{"database.url": postgres_database})
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH where no PostgreSQL client is installed

    with pytest.raises(BackupError, match="pg_dump was not found on PATH"):
        create_backup(settings)
    assert list_backups(settings) == []


def test_given_a_backup_of_the_other_engine_when_restoring_then_refused(make_settings, postgres_database):
    sqlite_settings = make_settings()
    directory = backup_dir(sqlite_settings)
    directory.mkdir(parents=True)
    name = new_name("postgresql", True)
    (directory / name).write_bytes(gzip.compress(b"SELECT 1;"))

    with pytest.raises(BackupError, match="postgresql backup"):
        restore_backup(sqlite_settings, name)
    assert os.path.exists(directory / name)
