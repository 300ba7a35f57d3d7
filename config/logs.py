"""One logging set-up for every process: `setup_logging(settings, "web" | "worker" | ...)`.

Lines go to stdout as key=value (`at=... level=INFO process=web logger=mcps.api event=tool.started
tool=git`), or as one JSON object a line with `logging.format: json` (the message's own key=value pairs
become fields), at `logging.level`. The same lines go to a rotating file `<logging.dir>/<process>.log`.
Several processes of one kind (gunicorn's, Dramatiq's) share that file: rotation is done under a file
lock and every process reopens the file once another rotated it, so no line lands in a rotated-away file.

Extra handlers (the database sink of models.log_sink) are passed in by the caller: config/ knows nothing
of the models.
"""
from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from config.settings import Section

# key=value pairs of a message: values are bare words, or quoted ('...' as %r writes them, or "...").
PAIR = re.compile(r"""(\w[\w.]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""")
NOISY_LOGGERS = {"apscheduler": logging.WARNING, "urllib3": logging.WARNING, "httpx": logging.WARNING}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


class KeyValueFormatter(logging.Formatter):
    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line = (f"at={_timestamp(record)} level={record.levelname} process={self.process} pid={record.process} "
                f"logger={record.name} {record.getMessage()}")
        if record.exc_info:
            line += " traceback=" + json.dumps(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        body = {"at": _timestamp(record), "level": record.levelname, "process": self.process, "pid": record.process,
                "logger": record.name, "message": message}
        for name, value in PAIR.findall(message):
            body.setdefault(name, value[1:-1] if value[:1] in "'\"" else value)
        if record.exc_info:
            body["traceback"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler that several processes may share: the size check and the rollover happen
    under an flock of `<file>.lock`, and a process whose open file was rotated away by another reopens."""

    def __init__(self, filename: str, max_bytes: int, backup_count: int):
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True)
        self._lock_path = filename + ".lock"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with open(self._lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._reopen_if_rotated()
                super().emit(record)  # rolls over first when the file is full
        except Exception:
            self.handleError(record)

    def _reopen_if_rotated(self) -> None:
        if self.stream is None:
            return
        try:
            rotated = os.stat(self.baseFilename).st_ino != os.fstat(self.stream.fileno()).st_ino
        except FileNotFoundError:
            rotated = True
        if rotated:
            self.stream.close()
            self.stream = None  # reopened by emit (delay=True)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        # The file's size, not our offset: the other processes wrote to it too.
        try:
            return os.stat(self.baseFilename).st_size >= self.maxBytes > 0
        except FileNotFoundError:
            return False


def setup_logging(settings: Section, process: str, extra_handlers: list[logging.Handler] = ()) -> None:
    """Replace the root logger's handlers with stdout (+ the rotating file, + `extra_handlers`)."""
    config = settings.logging
    formatter = JsonFormatter(process) if config.format == "json" else KeyValueFormatter(process)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if config.file_enabled:
        Path(config.dir).mkdir(parents=True, exist_ok=True)
        handlers.append(SharedRotatingFileHandler(str(Path(config.dir) / f"{process}.log"), config.max_bytes,
                                                  config.backup_count))
    for handler in handlers:
        handler.setFormatter(formatter)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in [*handlers, *extra_handlers]:
        root.addHandler(handler)
    root.setLevel(str(config.level).upper())
    for name, level in NOISY_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
