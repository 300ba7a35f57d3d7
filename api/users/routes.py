"""/api/v1/users: user management, admins only and with a login (JWT): an API key, even an admin's,
manages no users, as it mints no credentials. There is always at least one active admin."""
from __future__ import annotations

import logging

import peewee
from flask.views import MethodView

from api.bodies import Blueprint
from api.auth import current_user, require_role
from api.auth.passwords import generate_password, hash_password
from api.auth.schemas import UserSchema
from api.auth.tokens import revoke_all_tokens
from api.errors import abort
from api.pagination import page_schema, paginate
from api.users.accounts import LastAdmin, UsernameTaken, check_keeps_an_admin, create_user
from api.users.schemas import (GeneratedPasswordSchema, ResetPasswordSchema, UserCreateSchema, UserListArgs,
                               UserUpdateSchema, UserWithPasswordSchema)
from models import Message, Session, Task, User, db, utcnow

blp = Blueprint("users", __name__, url_prefix="/users", description="User management (admins)")
log = logging.getLogger("mcps.api.users")


def get_user_or_404(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404, message=f"no user {user_id}")
    return user


def delete_user_data(user_id: int) -> None:
    """What belongs to a user goes with them: SQLite gives a deleted highest id to the next user
    created, who would otherwise inherit the history, the tasks and the scheduled workflows."""
    Message.delete().where(Message.session.in_(Session.select(Session.id).where(Session.user_id == user_id))).execute()
    Message.delete().where(Message.user_id == user_id).execute()
    Session.delete().where(Session.user_id == user_id).execute()
    Task.delete().where(Task.user_id == user_id).execute()


@blp.route("")
class Users(MethodView):
    @require_role("admin", api_key=False)
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, page_schema(UserSchema))
    def get(self, args):
        """List users"""
        query = User.select().order_by(User.id)
        if "role" in args:
            query = query.where(User.role == args["role"])
        if "is_active" in args:
            query = query.where(User.is_active == args["is_active"])
        if "q" in args:
            query = query.where(User.username.contains(args["q"]) | User.email.contains(args["q"]))
        return paginate(query, args)

    @require_role("admin", api_key=False)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserWithPasswordSchema)
    @blp.alt_response(409, "CONFLICT")
    def post(self, body):
        """Create a user (a password is generated when none is given)"""
        generated = None if body.get("password") else generate_password()
        try:
            user = create_user(body["username"], body.get("password") or generated, role=body["role"],
                               email=body.get("email"), is_active=body["is_active"])
        except UsernameTaken as error:
            abort(409, message=str(error))
        log.info("event=users.created user=%s role=%s by=%s", user.username, user.role, current_user().username)
        user.password = generated  # answered once, never stored
        return user


@blp.route("/<id:user_id>")
class UserById(MethodView):
    @require_role("admin", api_key=False)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, "NOT_FOUND")
    def get(self, user_id):
        """One user"""
        return get_user_or_404(user_id)

    @require_role("admin", api_key=False)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, "NOT_FOUND")
    @blp.alt_response(409, "CONFLICT", description="Username taken, or the last active admin")
    def put(self, body, user_id):
        """Update a user (username, email, role, active)"""
        with db.atomic():
            user = get_user_or_404(user_id)
            try:
                check_keeps_an_admin(user, role=body.get("role"), is_active=body.get("is_active"))
            except LastAdmin as error:
                abort(409, message=str(error))
            try:
                with db.atomic():
                    User.update(**body, updated_at=utcnow()).where(User.id == user.id).execute()
            except peewee.IntegrityError:
                abort(409, message=f"username {body.get('username')!r} is taken")
            user = User.get_by_id(user_id)
        log.info("event=users.updated user=%s fields=%s by=%s", user.username, ",".join(sorted(body)),
                 current_user().username)
        return user

    @require_role("admin", api_key=False)
    @blp.response(204)
    @blp.alt_response(404, "NOT_FOUND")
    @blp.alt_response(409, "CONFLICT", description="The last active admin")
    def delete(self, user_id):
        """Delete a user with their API keys, sessions (call history), tasks and stored workflows"""
        with db.atomic():
            user = get_user_or_404(user_id)
            try:
                check_keeps_an_admin(user, deleting=True)
            except LastAdmin as error:
                abort(409, message=str(error))
            delete_user_data(user.id)
            user.delete_instance()
        # Their tokens must die with them (SQLite may hand the id to the next user created).
        revoke_all_tokens(user_id)
        log.info("event=users.deleted user=%s by=%s", user.username, current_user().username)


@blp.route("/<id:user_id>/reset-password")
class ResetPassword(MethodView):
    @require_role("admin", api_key=False)
    @blp.arguments(ResetPasswordSchema, required=False)
    @blp.response(200, GeneratedPasswordSchema)
    @blp.alt_response(404, "NOT_FOUND")
    def post(self, body, user_id):
        """Set a user's password (generated when none is given); unlocks the account, ends its sessions"""
        user = get_user_or_404(user_id)
        generated = None if body.get("password") else generate_password()
        User.update(password_hash=hash_password(body.get("password") or generated), failed_logins=0,
                    locked_until=None, updated_at=utcnow()).where(User.id == user.id).execute()
        revoke_all_tokens(user.id)
        log.info("event=users.password_reset user=%s by=%s", user.username, current_user().username)
        return {"password": generated}
