"""Password hashing with argon2id, and the password rules from settings.

The hasher is created per app: RFC 9106's low-memory profile (argon2-cffi's default), or a cheap one
under `app.env: test` so that the suite stays fast (still argon2, still verified the same way).
"""
from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from marshmallow import ValidationError

from config import Section

HASHER_KEY = "mcps.password_hasher"
MAX_PASSWORD_LENGTH = 1024


def make_hasher(settings: Section) -> PasswordHasher:
    if settings.app.env == "test":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def _hasher() -> PasswordHasher:
    return current_app.extensions[HASHER_KEY]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (rehash on the next login)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def burn_verification_time(password: str) -> None:
    """Spend the time of one verification, so that an unknown username answers as slowly as a known one."""
    hasher = _hasher()
    dummy = current_app.extensions.setdefault("mcps.dummy_password_hash", hasher.hash(secrets.token_hex(8)))
    verify_password(dummy, password)


def generate_password() -> str:
    """A random password for a new admin or a reset: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


def check_password_rules(password: str) -> None:
    """Raise a marshmallow ValidationError when the password breaks the configured rules."""
    from api.extensions import get_settings

    minimum = get_settings().security.password_min_length
    if len(password) < minimum:
        raise ValidationError(f"Must be at least {minimum} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Must be at most {MAX_PASSWORD_LENGTH} characters long.")
