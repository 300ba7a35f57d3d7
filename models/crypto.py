"""Encryption at rest for tool secrets (env values, HTTP headers), with a key bound at start-up."""
from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken
import peewee

_cipher: Fernet | None = None


def bind_encryption_key(key: str) -> None:
    global _cipher
    _cipher = Fernet(key.encode())


def _require_cipher() -> Fernet:
    if _cipher is None:
        raise RuntimeError("encryption key not bound: call models.bind_encryption_key first")
    return _cipher


class EncryptedJSONField(peewee.TextField):
    """A JSON value encrypted with Fernet; the database never sees the plaintext."""

    def db_value(self, value):
        if value is None:
            return None
        return _require_cipher().encrypt(json.dumps(value).encode()).decode()

    def python_value(self, value):
        if value is None:
            return None
        try:
            return json.loads(_require_cipher().decrypt(value.encode()))
        except InvalidToken:
            raise RuntimeError("tool secrets cannot be decrypted: wrong security.encryption_key") from None
