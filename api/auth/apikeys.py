"""API keys for MCP clients: `mcps_<43 random chars>`, shown once, stored as SHA-256.

A key is 256 random bits, so a fast hash is enough (nothing to brute-force) and lets a request find its
key with one indexed lookup. The stored prefix (`mcps_` + 7 chars) only helps people tell keys apart.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from models.fastget import get_by
from models import ApiKey, User, utcnow

KEY_PREFIX = "mcps_"
DISPLAY_PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key and minute on the hot path


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def create_api_key(user: User, name: str, tool_scope: list[int] | None = None,
                   expires_at=None) -> tuple[ApiKey, str]:
    """A new key of `user` (limited to the tools of ids `tool_scope`, unless None); returns the row and
    the raw key (which is not stored anywhere)."""
    raw_key = generate_api_key()
    row = ApiKey.create(user=user, name=name, prefix=raw_key[:DISPLAY_PREFIX_LENGTH],
                        key_hash=hash_api_key(raw_key), tool_scope=tool_scope, expires_at=expires_at)
    return row, raw_key


def find_api_key(raw_key: str) -> ApiKey | None:
    """The key row (with its user joined) for a presented key, whatever its state."""
    api_key = get_by(ApiKey, ApiKey.key_hash, hash_api_key(raw_key))
    if api_key is not None:
        api_key.user = get_by(User, User.id, api_key.user_id)
    return api_key


def rejection_reason(api_key: ApiKey | None) -> str | None:
    """Why this key may not be used now, or None when it may."""
    if api_key is None or api_key.revoked_at is not None:
        return "invalid or revoked API key"
    if api_key.expires_at is not None and api_key.expires_at <= utcnow():
        return "API key has expired"
    if not api_key.user.is_active:
        return "the API key's user is disabled"
    return None


def touch(api_key: ApiKey) -> None:
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.update(last_used_at=now).where(ApiKey.id == api_key.id).execute()
        api_key.last_used_at = now
