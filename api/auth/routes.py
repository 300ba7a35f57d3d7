"""/api/v1/auth: login, logout, refresh, me, register, change-password and the caller's API keys."""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import wraps

from flask import g, request
from flask.views import MethodView
from flask_jwt_extended import decode_token, get_jwt, jwt_required
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from marshmallow import fields

from api.bodies import Blueprint
from api.auth import apikeys, lockout, tokens
from api.auth.lockout import abort_locked
from api.auth.access import authenticate, credentials_presented, has_role, require_role
from api.auth.passwords import burn_verification_time, hash_password, needs_rehash, verify_password
from api.auth.schemas import (ApiKeyArgsSchema, ApiKeySchema, ChangePasswordSchema, LoginSchema, LogoutSchema,
                              MeSchema, NewApiKeySchema, RegisterSchema, TokensSchema, UserSchema)
from api.errors import abort
from api.extensions import get_settings
from api.pagination import PageArgs, page_schema, paginate
from api.users.accounts import UsernameTaken, create_user
from models import ApiKey, User, utcnow
from policy import access as policy

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Log in, tokens, API keys")
log = logging.getLogger("mcps.api.auth")

BAD_CREDENTIALS = "invalid username or password"


def record_failed_login(user: User) -> None:
    """Count a failed login (atomically); the max_login_attempts-th one locks the account."""
    security = get_settings().security
    User.update(failed_logins=User.failed_logins + 1).where(User.id == user.id).execute()
    failures = User.select(User.failed_logins).where(User.id == user.id).scalar()
    if failures >= security.max_login_attempts:
        locked_until = utcnow() + timedelta(minutes=security.lockout_minutes)
        User.update(locked_until=locked_until, failed_logins=0).where(User.id == user.id).execute()
        log.warning("event=auth.locked user=%s failures=%d minutes=%d",
                    user.username, failures, security.lockout_minutes)
        abort_locked((locked_until - utcnow()).total_seconds() + 1)


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, "UNAUTHORIZED")
    @blp.alt_response(423, "LOCKED", description="Too many failed logins: locked for security.lockout_minutes")
    def post(self, credentials):
        """Log in: an access token (30 min) and a refresh token (7 days)"""
        lockout.check_address(request.remote_addr)
        user = User.get_or_none(User.username == credentials["username"])
        if user is None:  # answered exactly as a wrong password, lockout included
            lockout.check_unknown_name(credentials["username"])
            burn_verification_time(credentials["password"])
            lockout.record_address_failure(request.remote_addr)
            lockout.record_unknown_name_failure(credentials["username"])
            abort(401, message=BAD_CREDENTIALS)
        if user.locked_until is not None and user.locked_until > utcnow():
            abort_locked((user.locked_until - utcnow()).total_seconds() + 1)
        if not verify_password(user.password_hash, credentials["password"]):
            log.info("event=auth.login_failed user=%s", user.username)
            lockout.record_address_failure(request.remote_addr)
            record_failed_login(user)
            abort(401, message=BAD_CREDENTIALS)
        if not user.is_active:
            abort(403, message="this account is disabled")
        changes = {User.failed_logins: 0, User.locked_until: None, User.last_login_at: utcnow()}
        if needs_rehash(user.password_hash):
            changes[User.password_hash] = hash_password(credentials["password"])
        User.update(changes).where(User.id == user.id).execute()
        log.info("event=auth.login user=%s", user.username)
        return {**tokens.issue_tokens(user), "user": User.get_by_id(user.id)}


@blp.route("/logout")
class Logout(MethodView):
    @require_role("viewer", api_key=False)
    @blp.arguments(LogoutSchema, required=False)
    @blp.response(204)
    def post(self, body):
        """Log out: revoke this login (its access and refresh tokens; a refresh_token given is revoked too)"""
        caller = authenticate()
        tokens.revoke_token(caller.token)
        tokens.revoke_login(caller.token)
        if body.get("refresh_token"):
            try:
                refresh = decode_token(body["refresh_token"], allow_expired=True)
            except (JWTExtendedException, PyJWTError):
                abort(422, message="refresh_token is not a valid token",
                      errors={"json": {"refresh_token": ["Not a valid token."]}})
            if refresh.get("type") != "refresh" or refresh["sub"] != caller.token["sub"]:
                abort(422, message="refresh_token is not one of your refresh tokens",
                      errors={"json": {"refresh_token": ["Not one of your refresh tokens."]}})
            tokens.revoke_token(refresh)


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, TokensSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.alt_response(401, "UNAUTHORIZED")
    def post(self):
        """A new access token, for `Authorization: Bearer <refresh token>`"""
        payload = get_jwt()
        user = User.get_or_none(User.id == int(payload["sub"]))
        if user is None or not user.is_active:
            abort(401, message="the token's user no longer exists or is disabled")
        return {"access_token": tokens.access_token_for(user, payload.get("ver", 0), payload.get("sid")),
                "token_type": "Bearer",
                "expires_in": get_settings().security.access_token_minutes * 60}


@blp.route("/me")
class Me(MethodView):
    @require_role("viewer")
    @blp.response(200, MeSchema)
    def get(self):
        """The caller: its user, and the API key when it authenticated with one"""
        caller = authenticate()
        user_fields = {name: getattr(caller.user, name) for name in UserSchema().fields}
        return {**user_fields, "auth_method": "api_key" if caller.api_key else "jwt", "api_key": caller.api_key}


def registration_allowed(view):
    """Admins may always register users; anyone else only as a viewer and when registration is open.
    Checked before the body is validated, like require_role."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        caller = authenticate() if credentials_presented() else None
        g.registered_by_admin = caller is not None and caller.api_key is None and has_role(caller.user, "admin")
        if not g.registered_by_admin and not get_settings().security.allow_registration:
            if caller is None:
                abort(401, message="registration is closed: an admin must create accounts")
            abort(403, message="registration is closed: only admins can create accounts")
        return view(*args, **kwargs)
    return wrapper


@blp.route("/register")
class Register(MethodView):
    @registration_allowed
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.doc(security=[{}, {"bearerAuth": []}])
    @blp.alt_response(401, "UNAUTHORIZED")
    @blp.alt_response(403, "FORBIDDEN")
    @blp.alt_response(409, "CONFLICT")
    def post(self, body):
        """Create a user: admins (any role), or anyone as a viewer when security.allow_registration"""
        role = body.get("role", "viewer")
        if role != "viewer" and not g.registered_by_admin:
            abort(403, message="self-registered users are viewers; only admins can choose a role")
        try:
            user = create_user(body["username"], body["password"], role=role, email=body.get("email"))
        except UsernameTaken as error:
            abort(409, message=str(error))
        log.info("event=auth.registered user=%s role=%s by_admin=%s", user.username, user.role,
                 g.registered_by_admin)
        return user


@blp.route("/change-password")
class ChangePassword(MethodView):
    @require_role("viewer", api_key=False)
    @blp.arguments(ChangePasswordSchema)
    @blp.response(200, TokensSchema)
    def post(self, body):
        """Change your password; every other session is logged out, new tokens are returned"""
        user = authenticate().user
        if not verify_password(user.password_hash, body["current_password"]):
            abort(400, message="current password is incorrect",
                  errors={"json": {"current_password": ["Incorrect password."]}})
        User.update(password_hash=hash_password(body["new_password"]), updated_at=utcnow()).where(
            User.id == user.id).execute()
        tokens.revoke_all_tokens(user.id)
        log.info("event=auth.password_changed user=%s", user.username)
        return {**tokens.issue_tokens(user), "user": User.get_by_id(user.id)}


class ApiKeyListArgs(PageArgs):
    include_revoked = fields.Boolean(load_default=False)


@blp.route("/api-keys")
class ApiKeys(MethodView):
    @require_role("viewer")
    @blp.arguments(ApiKeyListArgs, location="query")
    @blp.response(200, page_schema(ApiKeySchema))
    def get(self, args):
        """Your API keys (never the keys themselves)"""
        query = ApiKey.select().where(ApiKey.user == authenticate().user).order_by(ApiKey.id)
        if not args["include_revoked"]:
            query = query.where(ApiKey.revoked_at.is_null())
        return paginate(query, args)

    @require_role("viewer", api_key=False)
    @blp.arguments(ApiKeyArgsSchema)
    @blp.response(201, NewApiKeySchema)
    def post(self, body):
        """Create an API key: the key is in this answer only"""
        if body["expires_at"] is not None and body["expires_at"] <= utcnow():
            abort(422, message="expires_at must be in the future",
                  errors={"json": {"expires_at": ["Must be in the future."]}})
        scope = None
        if body["tool_scope"] is not None:
            try:
                scope = policy.resolve_tool_refs(body["tool_scope"])
            except policy.UnknownTools as error:
                abort(422, message=f"tool_scope: {error}", errors={"json": {"tool_scope": [str(error)]}})
        row, raw_key = apikeys.create_api_key(authenticate().user, body["name"], scope, body["expires_at"])
        log.info("event=auth.api_key_created user=%s key=%s", row.user.username, row.prefix)
        row.key = raw_key  # answered once, never stored
        return row


@blp.route("/api-keys/<id:key_id>")
class ApiKeyById(MethodView):
    @require_role("viewer", api_key=False)
    @blp.response(204)
    @blp.alt_response(404, "NOT_FOUND")
    def delete(self, key_id):
        """Revoke one of your API keys (immediately)"""
        row = ApiKey.get_or_none((ApiKey.id == key_id) & (ApiKey.user == authenticate().user))
        if row is None:
            abort(404, message=f"no API key {key_id}")
        if row.revoked_at is None:
            ApiKey.update(revoked_at=utcnow()).where(ApiKey.id == row.id).execute()
            log.info("event=auth.api_key_revoked user=%s key=%s", row.user.username, row.prefix)
