"""Who is calling, and may they: one authentication per request, roles admin > operator > viewer.

Credentials are, in this order: `X-API-Key: mcps_...`, `Authorization: Bearer mcps_...` (an API key
acts as its user, limited to its tool scope), or `Authorization: Bearer <access JWT>`. The resolved
caller is cached on `flask.g`, so the rate limiter's key function and the view share one lookup.
"""
from __future__ import annotations

import time
from copy import deepcopy
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request
from flask_jwt_extended import get_jwt, get_jwt_request_location, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from werkzeug.exceptions import HTTPException

from api.auth import apikeys, tokens
from api.errors import abort
from models import ApiKey, User
from models.fastget import get_by
from policy import access as policy
from policy.access import ROLE_RANK, has_role

SECURITY_JWT = {"bearerAuth": []}
SECURITY_API_KEY = {"apiKeyAuth": []}


@dataclass(frozen=True)
class Caller:
    user: User
    api_key: ApiKey | None = None
    token: dict | None = None  # the JWT payload when authenticated by a token


def presented_api_key() -> str | None:
    header_key = request.headers.get("X-API-Key")
    if header_key:
        return header_key.strip()
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and apikeys.looks_like_api_key(credentials):
        return credentials
    return None


def credentials_presented() -> bool:
    """An API key or a JWT in the headers, or the web console's session cookie (api.auth.tokens)."""
    return bool(request.headers.get("X-API-Key") or request.headers.get("Authorization")
                or request.cookies.get(tokens.ACCESS_COOKIE))


def authenticate() -> Caller:
    """The caller of this request; aborts with 401 when credentials are missing or not valid."""
    caller = g.get("mcps_caller")
    if caller is not None:
        return caller
    raw_key = presented_api_key()
    if raw_key is not None:
        api_key = apikeys.find_api_key(raw_key)
        reason = apikeys.rejection_reason(api_key)
        if reason:
            abort(401, message=reason)
        apikeys.touch(api_key)
        caller = Caller(user=api_key.user, api_key=api_key)
    else:
        payload = _verified_jwt()
        user = get_by(User, User.id, int(payload["sub"]))
        if user is None or not user.is_active:
            abort(401, message="the token's user no longer exists or is disabled")
        caller = Caller(user=user, token=payload)
    g.mcps_caller = caller
    return caller


# Access tokens whose signature and claims flask-jwt-extended verified in this app: a token seen again
# only has its expiry and revocation checked (verifying costs ~0.3 ms per request).
VERIFIED_TOKENS_KEY = "mcps.verified_tokens"
_VERIFIED_TOKENS_MAX = 10_000


def _verified_jwt() -> dict:
    verified = current_app.extensions.setdefault(VERIFIED_TOKENS_KEY, {})
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    payload = verified.get(token) if scheme == "Bearer" else None
    if payload is not None and payload["exp"] > time.time():
        if tokens.is_revoked({}, payload):
            abort(401, message="token has been revoked")
        return payload
    verify_jwt_in_request()  # raises flask-jwt-extended errors, answered as 401 by api.auth.tokens
    payload = get_jwt()
    # Only header tokens are remembered: a cookie's must pass the CSRF check of every unsafe request.
    if scheme == "Bearer" and payload.get("type") == "access" and get_jwt_request_location() == "headers":
        if len(verified) >= _VERIFIED_TOKENS_MAX:
            verified.clear()
        verified[token] = payload
    return payload


def optional_caller() -> Caller | None:
    """The caller when valid credentials were presented, else None; never raises."""
    if not credentials_presented():
        return None
    try:
        return authenticate()
    except (HTTPException, JWTExtendedException, PyJWTError):
        return None


def require_role(role: str = "viewer", *, api_key: bool = True):
    """Decorate a view (or MethodView method): 401 unless authenticated, 403 unless `role` or higher.

    Put it above `@blp.arguments` so that access is checked before the body is validated. With
    `api_key=False` the endpoint needs a user's JWT (credential management: a leaked key must not mint
    more keys or change the password).
    """
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}, expected one of {', '.join(ROLE_RANK)}")

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            caller = authenticate()
            if caller.api_key is not None and not api_key:
                abort(403, message="this endpoint needs a user's login (JWT), not an API key")
            if not has_role(caller.user, role):
                abort(403, message=f"requires the {role} role (you are {caller.user.role})")
            return func(*args, **kwargs)

        wrapper.required_role = role
        wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual_doc = wrapper._apidoc.setdefault("manual_doc", {})
        manual_doc["security"] = [SECURITY_JWT, SECURITY_API_KEY] if api_key else [SECURITY_JWT]
        manual_doc.setdefault("responses", {}).update({401: "UNAUTHORIZED", 403: "FORBIDDEN"})
        return wrapper

    return decorator


def current_user() -> User:
    """The authenticated user of this request (authenticates when not done yet: 401 otherwise)."""
    return authenticate().user


def current_api_key() -> ApiKey | None:
    """The API key this request authenticated with, or None for a JWT."""
    return authenticate().api_key


def tool_in_scope(tool_id: int) -> bool:
    """May this request use the tool? (policy.access.in_scope for this request's API key.)"""
    return policy.in_scope(current_api_key(), tool_id)


def tool_ids_in_scope() -> frozenset[int] | None:
    """The ids of the tools this request's API key may use; None when it may use all (or is a JWT)."""
    return policy.scope_of(current_api_key())
