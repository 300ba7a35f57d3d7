"""JWTs: issuing, revoking (jti kept in Redis until the token expires) and flask-jwt-extended's errors.

API clients send the access token in `Authorization: Bearer`. The web console (api.console) keeps it in an
httpOnly cookie instead, with flask-jwt-extended's CSRF double submit: the token carries a `csrf` claim
whose value is also in a cookie the console's JavaScript reads and sends back as `X-CSRF-TOKEN` on every
POST/PUT/PATCH/DELETE; a cookie-authenticated unsafe request without it is refused (401). A request that
has an Authorization header is authenticated by the header alone, exactly as before.

A user's tokens can also be revoked all at once (password changed or reset): every token carries the
user's token version (`ver`), and a token whose version is older than the one in Redis is refused.

The tokens of one login share a login id (`sid`; access tokens made by refreshing keep it): logging out
revokes the login, so neither its refresh token (even when the client did not send it along) nor any
access token it minted is accepted any more. The login's key is read in the same MGET as the others.
"""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

from flask import Flask, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token

from api.errors import error_response
from api.extensions import get_redis, get_settings
from config import Section, secret
from models import User
from jobs.keys import key


def init_jwt(app: Flask, settings: Section) -> JWTManager:
    app.config.update(
        JWT_SECRET_KEY=secret(settings, "jwt_secret"),
        JWT_ALGORITHM="HS256",
        JWT_TOKEN_LOCATION=["headers", "cookies"],  # the header first: API clients are unchanged
        JWT_ACCESS_COOKIE_NAME=ACCESS_COOKIE,
        JWT_ACCESS_CSRF_COOKIE_NAME=CSRF_COOKIE,
        JWT_ACCESS_CSRF_HEADER_NAME=CSRF_HEADER,
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=False,  # the header only: a cross-site form cannot set it
        JWT_COOKIE_SAMESITE="Strict",
        JWT_COOKIE_SECURE=settings.app.env == "production",
        JWT_ACCESS_COOKIE_PATH="/",
        JWT_ACCESS_CSRF_COOKIE_PATH="/",
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.security.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=settings.security.refresh_token_days),
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt = JWTManager(app)
    jwt.token_in_blocklist_loader(is_revoked)
    # Every authentication failure is a 401 in the one error shape (flask-jwt-extended answers
    # malformed tokens with 422 by default).
    jwt.unauthorized_loader(lambda reason: error_response(401, _header_client_reason(reason)))
    jwt.invalid_token_loader(lambda reason: error_response(401, f"invalid token: {reason}"))
    jwt.expired_token_loader(lambda _header, _payload: error_response(401, "token has expired"))
    jwt.revoked_token_loader(lambda _header, _payload: error_response(401, "token has been revoked"))
    jwt.needs_fresh_token_loader(lambda _header, _payload: error_response(401, "a fresh login is required"))
    jwt.user_lookup_error_loader(lambda _header, _payload: error_response(401, "unknown user"))
    jwt.token_verification_failed_loader(
        lambda _header, _payload: error_response(401, "token claims verification failed"))
    return jwt


ACCESS_COOKIE = "mcps_session"  # httpOnly: the console's access token
CSRF_COOKIE = "mcps_csrf"  # readable by the console's JavaScript, sent back as CSRF_HEADER
CSRF_HEADER = "X-CSRF-TOKEN"


def _header_client_reason(reason: str) -> str:
    """A request without the console's cookie is answered as when tokens were read from headers only
    ("Missing Authorization Header"), not "Missing JWT in headers or cookies (...)"."""
    if reason.startswith("Missing JWT in ") and ACCESS_COOKIE not in request.cookies and "(" in reason:
        return reason[reason.index("(") + 1:].split("; ")[0]
    return reason


def _revoked_key(jti: str) -> str:
    return key(get_settings(), "jwt", "revoked", jti)


def _version_key(user_id: int) -> str:
    return key(get_settings(), "jwt", "version", user_id)


def _login_key(sid: str) -> str:
    return key(get_settings(), "jwt", "revoked_login", sid)


def token_version(user_id: int) -> int:
    return int(get_redis().get(_version_key(user_id)) or 0)


def access_token_for(user: User, version: int | None = None, sid: str | None = None) -> str:
    version = token_version(user.id) if version is None else version
    claims = {"ver": version, "role": user.role, "username": user.username}
    if sid:
        claims["sid"] = sid
    return create_access_token(identity=str(user.id), additional_claims=claims)


def issue_tokens(user: User) -> dict:
    """The body of a successful login: an access and a refresh token."""
    version = token_version(user.id)
    sid = uuid.uuid4().hex
    return {
        "access_token": access_token_for(user, version, sid),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims={"ver": version, "sid": sid}),
        "token_type": "Bearer",
        "expires_in": get_settings().security.access_token_minutes * 60,
    }


def revoke_token(payload: dict) -> None:
    """Refuse this token (by jti) from now until it would have expired anyway."""
    ttl = max(int(payload["exp"] - time.time()) + 1, 1)
    get_redis().set(_revoked_key(payload["jti"]), 1, ex=ttl)


def revoke_login(payload: dict) -> None:
    """Refuse every token of the login this token belongs to (its refresh token included)."""
    if payload.get("sid"):
        ttl = int(get_settings().security.refresh_token_days * 86400) + 1
        get_redis().set(_login_key(payload["sid"]), 1, ex=ttl)


def revoke_all_tokens(user_id: int) -> None:
    """Refuse every token issued to this user so far (tokens issued afterwards carry the new version).

    Also called when a user is deleted: SQLite may give the id to the next user created. The key has
    no TTL, as a version that expired would let older tokens pass again after the next increment.
    """
    get_redis().incr(_version_key(user_id))


def is_revoked(_header: dict, payload: dict) -> bool:
    names = [_revoked_key(payload["jti"]), _version_key(payload["sub"])]
    if payload.get("sid"):
        names.append(_login_key(payload["sid"]))
    revoked, version, *login_revoked = get_redis().mget(names)
    return revoked is not None or int(payload.get("ver", 0)) < int(version or 0) or any(
        flag is not None for flag in login_revoked)
