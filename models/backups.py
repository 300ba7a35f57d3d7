"""Backup files of the database: where they live, their names, listing and pruning.

A backup is one file in the backup directory named `mcps-<UTC time>-<random>.<sqlite3|sql>[.gz]`.
The directory is the record (no table that could disagree with it). A name that comes from a request
is only ever used after `backup_path` matched it against NAME and found it in that directory.
How a backup is taken and restored per engine is in `models.dumps`.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from config import Section
from config.files import ensure_private_dir
from models.log_sink import SYSTEM

log = logging.getLogger("mcps.backups")

NAME = re.compile(r"mcps-(?P<at>\d{8}T\d{6}Z)-[0-9a-f]{6}\.(?P<format>sqlite3|sql)(?P<gz>\.gz)?")
TIME_FORMAT = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """A backup or restore could not be done; the message says why (and what to install)."""


class NoSuchBackup(BackupError):
    pass


class BackupRefused(BackupError):
    """The request cannot be honoured as asked (a backup of the other engine)."""


@dataclass(frozen=True)
class BackupFile:
    name: str
    path: Path
    created_at: datetime
    engine: str  # sqlite | postgresql
    compressed: bool
    size_bytes: int

    def as_dict(self) -> dict:
        return {"name": self.name, "created_at": self.created_at, "engine": self.engine,
                "compressed": self.compressed, "size_bytes": self.size_bytes}


def backup_dir(settings: Section) -> Path:
    configured = settings.data.backup.dir
    return Path(configured).expanduser() if configured else Path(settings.app.data_dir) / "backups"


def temp_dir(settings: Section) -> Path:
    """Scratch files (a backup being written, a restore being unpacked); retention empties it."""
    path = Path(settings.app.data_dir) / "tmp"
    ensure_private_dir(path)
    return path


def new_name(engine: str, compressed: bool, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    extension = "sqlite3" if engine == "sqlite" else "sql"
    return f"mcps-{now.strftime(TIME_FORMAT)}-{secrets.token_hex(3)}.{extension}{'.gz' if compressed else ''}"


def describe(path: Path) -> BackupFile | None:
    match = NAME.fullmatch(path.name)
    if match is None or not path.is_file():
        return None
    return BackupFile(name=path.name, path=path,
                      created_at=datetime.strptime(match["at"], TIME_FORMAT).replace(tzinfo=timezone.utc),
                      engine="sqlite" if match["format"] == "sqlite3" else "postgresql",
                      compressed=bool(match["gz"]), size_bytes=path.stat().st_size)


def list_backups(settings: Section) -> list[BackupFile]:
    """Every backup file, newest first."""
    directory = backup_dir(settings)
    if not directory.is_dir():
        return []
    found = [describe(path) for path in directory.iterdir()]
    return sorted((backup for backup in found if backup is not None), key=lambda b: (b.created_at, b.name),
                  reverse=True)


def backup_path(settings: Section, name: str) -> BackupFile:
    """The backup called `name`: the name must be a backup name (no path, no `..`) and the file must exist."""
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise NoSuchBackup(f"no backup {name!r}")
    backup = describe(backup_dir(settings) / name)
    if backup is None:
        raise NoSuchBackup(f"no backup {name!r}")
    return backup


def delete_backup(settings: Section, name: str) -> None:
    backup = backup_path(settings, name)
    backup.path.unlink()
    log.info("event=backup.deleted name=%s", backup.name, extra=SYSTEM)


def prune(settings: Section, now: datetime | None = None) -> list[str]:
    """Delete backups older than keep_days and all but the newest max_count; returns their names."""
    now = now or datetime.now(timezone.utc)
    policy = settings.data.backup
    cutoff = now - timedelta(days=policy.keep_days)
    doomed = [backup for index, backup in enumerate(list_backups(settings))
              if backup.created_at < cutoff or index >= policy.max_count]
    for backup in doomed:
        try:
            backup.path.unlink()
        except FileNotFoundError:  # another pruner got there first
            continue
        log.info("event=backup.pruned name=%s created_at=%s", backup.name, backup.created_at.isoformat())
    return [backup.name for backup in doomed]
