"""The data dir and what lives in it are the platform's alone: directories 0700, files 0600.

It holds password hashes, generated secrets (the JWT secret signs admin tokens), task arguments and
results: nothing in it is for other local users, whatever the umask of whoever started us.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: str | Path) -> Path:
    """Create the directory (and missing parents) if needed, and make it 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path


def ensure_private_file(path: str | Path) -> Path:
    """Create the file empty if missing, with mode 0600 from its first moment; tighten it if it exists.

    An existing file is only chmod'ed, never opened: closing any descriptor of an SQLite database drops
    every POSIX lock this process holds on it (other connections' included)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        os.chmod(path, PRIVATE_FILE_MODE)
    return path
