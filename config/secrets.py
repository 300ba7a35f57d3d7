"""Secrets that must exist but have no safe default: configured, or generated once and kept 0600."""
from __future__ import annotations

import os
import secrets as _random
from pathlib import Path

from cryptography.fernet import Fernet

from config.files import ensure_private_dir
from config.settings import ConfigError, Section

_GENERATORS = {
    "jwt_secret": lambda: _random.token_urlsafe(48),
    "encryption_key": lambda: Fernet.generate_key().decode(),
}


def secret(settings: Section, name: str) -> str:
    """The configured secret `security.<name>`, else the one generated into the data dir on first use."""
    configured = settings.security[name]
    if configured:
        return configured
    if settings.app.env == "production":
        raise ConfigError(f"security.{name}: required in production")
    path = Path(settings.app.data_dir) / name
    if not path.exists():
        ensure_private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; read its value
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(_GENERATORS[name]())
    return path.read_text().strip()
