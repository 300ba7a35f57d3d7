"""Taking and restoring a backup, per engine, while the platform keeps running.

- SQLite: the online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot of the live
  database page by page in one step; a restore copies the backup onto the live database the same way,
  under SQLite's write lock, so other processes see either the old or the restored data, never a mix.
- PostgreSQL: `pg_dump --clean --if-exists` (plain SQL), restored with `psql --single-transaction`:
  until its commit, every other connection keeps reading the old data.

Backups are written to the scratch directory first and moved into place complete, so a half-written
file is never listed. Restoring needs the encryption key the backup was taken with (see README).
"""
from __future__ import annotations

import gzip
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import peewee

from config import Section
from config.files import ensure_private_dir, ensure_private_file
from models.backups import BackupError, BackupRefused, backup_dir, backup_path, describe, new_name, prune, temp_dir
from models.base import open_database
from models.log_sink import SYSTEM

log = logging.getLogger("mcps.backups")
CHUNK = 1024 * 1024
PG_TIMEOUT_S = 3600


def engine_of(settings: Section) -> str:
    return "sqlite" if settings.database.url.startswith("sqlite") else "postgresql"


def create_backup(settings: Section) -> dict:
    """Take a backup now, then prune old ones; returns the new backup and the pruned names."""
    engine = engine_of(settings)
    compress = settings.data.backup.compress
    name = new_name(engine, compress)
    scratch = temp_dir(settings) / f"{name}.partial"
    started = time.monotonic()
    try:
        ensure_private_file(scratch)
        if engine == "sqlite":
            _sqlite_snapshot(settings, scratch, compress)
        else:
            _pg_dump(settings, scratch, compress)
        target = ensure_private_dir(backup_dir(settings)) / name
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    backup = describe(target)
    pruned = prune(settings)
    log.info("event=backup.created name=%s engine=%s bytes=%d duration_ms=%d pruned=%d", name, engine,
             backup.size_bytes, (time.monotonic() - started) * 1000, len(pruned), extra=SYSTEM)
    return {"backup": {**backup.as_dict(), "created_at": backup.created_at.isoformat()}, "pruned": pruned}


def restore_backup(settings: Section, name: str) -> dict:
    """Replace the database's content with the backup called `name` (checked by models.backups)."""
    backup = backup_path(settings, name)
    engine = engine_of(settings)
    if backup.engine != engine:
        raise BackupRefused(f"backup {name} is a {backup.engine} backup; this platform runs on {engine}")
    started = time.monotonic()
    if engine == "sqlite":
        _sqlite_restore(settings, backup.path, backup.compressed)
    else:
        _psql_restore(settings, backup.path, backup.compressed)
    log.warning("event=backup.restored name=%s engine=%s duration_ms=%d", name, engine,
                (time.monotonic() - started) * 1000, extra=SYSTEM)
    return {"restored": name, "engine": engine}


# -- SQLite ----------------------------------------------------------------------------------------

def _sqlite_path(settings: Section) -> str:
    database = open_database(settings.database.url)
    assert isinstance(database, peewee.SqliteDatabase)
    return database.database


def _sqlite_snapshot(settings: Section, target: Path, compress: bool) -> None:
    plain = target.with_name(target.name + ".db") if compress else target
    ensure_private_file(plain)
    live = sqlite3.connect(_sqlite_path(settings), timeout=30)
    copy = sqlite3.connect(plain)
    try:
        live.backup(copy)  # pages=-1: one step, so one consistent snapshot
    finally:
        copy.close()
        live.close()
    if compress:
        try:
            _gzip(plain, target)
        finally:
            plain.unlink(missing_ok=True)


def _sqlite_restore(settings: Section, source: Path, compressed: bool) -> None:
    plain = source
    if compressed:
        plain = ensure_private_file(temp_dir(settings) / f"{source.name}.restore")
        _gunzip(source, plain)
    try:
        backup = sqlite3.connect(f"file:{plain}?mode=ro", uri=True)
        if backup.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"backup {source.name} is not a valid SQLite database")
        live = sqlite3.connect(_sqlite_path(settings), timeout=30)
        try:
            backup.backup(live)
        finally:
            live.close()
            backup.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"backup {source.name} could not be restored: {error}") from None
    finally:
        if plain != source:
            plain.unlink(missing_ok=True)


# -- PostgreSQL ------------------------------------------------------------------------------------

def _pg_command(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise BackupError(f"{binary} was not found on PATH: PostgreSQL backups need the PostgreSQL client "
                          f"programs (pg_dump and psql, e.g. apt-get install postgresql-client) on the workers")
    return path


def _pg_connection(settings: Section) -> tuple[list[str], dict]:
    """Connection arguments and environment: the password goes in PGPASSWORD, never on a command line."""
    url = urlparse(settings.database.url)
    args = ["--host", url.hostname or "localhost", "--port", str(url.port or 5432),
            "--dbname", url.path.lstrip("/")]
    if url.username:
        args += ["--username", url.username]
    # NOTICEs (--clean's "does not exist, skipping") would only fill the pipe we read errors from.
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def _pg_dump(settings: Section, target: Path, compress: bool) -> None:
    command = _pg_command("pg_dump")
    args, env = _pg_connection(settings)
    with _open_out(target, compress) as out:
        process = subprocess.Popen([command, *args, "--clean", "--if-exists", "--no-owner", "--no-privileges"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for chunk in iter(lambda: process.stdout.read(CHUNK), b""):
            out.write(chunk)
        _, errors = process.communicate(timeout=PG_TIMEOUT_S)
    if process.returncode != 0:
        raise BackupError(f"pg_dump failed ({process.returncode}): {errors.decode(errors='replace').strip()}")


def _psql_restore(settings: Section, source: Path, compressed: bool) -> None:
    command = _pg_command("psql")
    args, env = _pg_connection(settings)
    with (gzip.open(source, "rb") if compressed else open(source, "rb")) as dump:
        process = subprocess.Popen([command, *args, "--quiet", "--no-psqlrc", "--single-transaction",
                                    "--set", "ON_ERROR_STOP=1", "--file", "-"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            for chunk in iter(lambda: dump.read(CHUNK), b""):
                process.stdin.write(chunk)
        except BrokenPipeError:
            pass  # psql stopped on an error: its stderr says which
        finally:
            process.stdin.close()
        errors = process.stderr.read()
        process.wait(PG_TIMEOUT_S)
    if process.returncode != 0:
        raise BackupError(f"psql could not restore {source.name} (nothing was changed): "
                          f"{errors.decode(errors='replace').strip()[-2000:]}")


# -- files -----------------------------------------------------------------------------------------

def _open_out(path: Path, compress: bool):
    return gzip.open(path, "wb", compresslevel=6) if compress else open(path, "wb")


def _gzip(source: Path, target: Path) -> None:
    with open(source, "rb") as plain, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(plain, packed, CHUNK)


def _gunzip(source: Path, target: Path) -> None:
    with gzip.open(source, "rb") as packed, open(target, "wb") as plain:
        shutil.copyfileobj(packed, plain, CHUNK)
