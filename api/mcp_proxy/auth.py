"""Authentication of MCP clients without Flask: API keys and access JWTs, as api/auth/access.py does.

The same rows and functions decide (api.auth.apikeys: lookup by hash, rejection reasons, last-used touch;
the JWT secret and revocation keys of api.auth.tokens), only without flask.g/current_app. Database reads
run in a thread (the event loop never waits on the database) and a verified credential is remembered for
CACHE_S, so a busy client costs no lookup per request: a revoked key or disabled user is refused at most
CACHE_S later. JWT revocation is checked in Redis on every request, as the REST API does.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import jwt

from api.auth import apikeys
from config import Section, secret
from models import ApiKey, User
from policy import access as policy
from models.fastget import get_by
from jobs.keys import key

CACHE_S = 2.0
_CACHE_MAX = 10_000
REALM = "mcps"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the user's and API key's rows as loaded (decisions are policy.access's)."""

    user: User
    api_key: ApiKey | None = None

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def api_key_id(self) -> int | None:
        return self.api_key.id if self.api_key is not None else None

    @property
    def tool_scope(self) -> frozenset[int] | None:
        """The ids of the tools an API key may use; None for every tool (and for a JWT)."""
        return policy.scope_of(self.api_key)

    @property
    def principal(self) -> str:
        """Whom a call budget and a session belong to: the key, or else the user."""
        return f"key:{self.api_key_id}" if self.api_key_id is not None else f"user:{self.user_id}"


class Unauthorized(Exception):
    def __init__(self, reason: str, presented: bool):
        super().__init__(reason)
        self.presented = presented

    def www_authenticate(self) -> str:
        # RFC 6750 §3: no error code when no credentials were sent at all.
        if not self.presented:
            return f'Bearer realm="{REALM}"'
        return f'Bearer realm="{REALM}", error="invalid_token", error_description="{self}"'


class Authenticator:
    def __init__(self, settings: Section, redis):
        self.settings = settings
        self.redis = redis
        self.jwt_secret = secret(settings, "jwt_secret")
        self._keys: dict[str, tuple[float, Caller | str]] = {}  # raw key -> (until, caller or refusal)
        self._tokens: dict[str, tuple[float, dict]] = {}  # token -> (until, verified payload)
        self._users: dict[int, tuple[float, Caller | None]] = {}

    async def authenticate(self, headers: dict[str, str]) -> Caller:
        api_key = headers.get("x-api-key")
        scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
        credentials = credentials.strip()
        if not api_key and scheme.lower() == "bearer" and apikeys.looks_like_api_key(credentials):
            api_key = credentials
        if api_key:
            return await self._by_api_key(api_key.strip())
        if scheme.lower() == "bearer" and credentials:
            return await self._by_token(credentials)
        raise Unauthorized("authentication required: an API key (Authorization: Bearer / X-API-Key) or a JWT",
                           presented=False)

    async def _by_api_key(self, raw_key: str) -> Caller:
        cached = self._keys.get(raw_key)
        now = time.monotonic()
        if cached is None or cached[0] < now:
            outcome = await asyncio.to_thread(_load_api_key, raw_key)
            _remember(self._keys, raw_key, (now + CACHE_S, outcome))
        else:
            outcome = cached[1]
        if isinstance(outcome, str):
            raise Unauthorized(outcome, presented=True)
        return outcome

    async def _by_token(self, token: str) -> Caller:
        now = time.monotonic()
        cached = self._tokens.get(token)
        payload = cached[1] if cached is not None and cached[0] > now else None
        if payload is None:
            try:
                payload = jwt.decode(token, self.jwt_secret, algorithms=["HS256"],
                                     options={"require": ["exp", "sub", "jti"]})
            except jwt.PyJWTError as error:
                raise Unauthorized(f"invalid token: {error}", presented=True) from None
            if payload.get("type") != "access":
                raise Unauthorized("only access tokens are accepted", presented=True)
            _remember(self._tokens, token, (now + CACHE_S, payload))
        if payload["exp"] <= time.time():
            raise Unauthorized("token has expired", presented=True)
        # The revocation rule of api.auth.tokens.is_revoked, on its Redis keys.
        names = [key(self.settings, "jwt", "revoked", payload["jti"]),
                 key(self.settings, "jwt", "version", payload["sub"])]
        if payload.get("sid"):  # the login, revoked as a whole by logout
            names.append(key(self.settings, "jwt", "revoked_login", payload["sid"]))
        revoked, version, *login_revoked = await self.redis.mget(names)
        if revoked is not None or int(payload.get("ver", 0)) < int(version or 0) or any(
                flag is not None for flag in login_revoked):
            raise Unauthorized("token has been revoked", presented=True)
        return await self._user(int(payload["sub"]))

    async def _user(self, user_id: int) -> Caller:
        now = time.monotonic()
        cached = self._users.get(user_id)
        if cached is None or cached[0] < now:
            caller = await asyncio.to_thread(_load_user, user_id)
            _remember(self._users, user_id, (now + CACHE_S, caller))
        else:
            caller = cached[1]
        if caller is None:
            raise Unauthorized("the token's user no longer exists or is disabled", presented=True)
        return caller


def _remember(cache: dict, name, entry) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[name] = entry


def _load_api_key(raw_key: str) -> Caller | str:
    """The caller of a key, or why the key is refused (api.auth.apikeys decides)."""
    api_key = apikeys.find_api_key(raw_key)
    reason = apikeys.rejection_reason(api_key)
    if reason:
        return reason
    apikeys.touch(api_key)
    return Caller(user=api_key.user, api_key=api_key)


def _load_user(user_id: int) -> Caller | None:
    user = get_by(User, User.id, user_id)
    if user is None or not user.is_active:
        return None
    return Caller(user=user)
