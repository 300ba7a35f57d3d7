"""Account rules shared by the API and the CLI: unique usernames, at least one active admin."""
from __future__ import annotations

import peewee

from api.auth.passwords import hash_password
from models import User, db


class UsernameTaken(ValueError):
    pass


class LastAdmin(ValueError):
    pass


def create_user(username: str, password: str, *, role: str = "viewer", email: str | None = None,
                is_active: bool = True) -> User:
    password_hash = hash_password(password)
    try:
        with db.atomic():
            return User.create(username=username, password_hash=password_hash, role=role, email=email,
                               is_active=is_active)
    except peewee.IntegrityError:
        raise UsernameTaken(f"username {username!r} is taken") from None


def active_admins():
    return User.select().where((User.role == "admin") & (User.is_active == True))  # noqa: E712


def check_keeps_an_admin(user: User, *, role: str | None = None, is_active: bool | None = None,
                         deleting: bool = False) -> None:
    """Raise LastAdmin when this change would leave no active admin. Call inside a transaction: on
    PostgreSQL the admins' rows are locked so that two admins cannot demote each other at once."""
    was_admin = user.role == "admin" and user.is_active
    stays_admin = not deleting and (role or user.role) == "admin" and (
        user.is_active if is_active is None else is_active)
    if not was_admin or stays_admin:
        return
    admins = active_admins()
    if db.obj.for_update:
        admins = admins.for_update()
    if not any(admin.id != user.id for admin in admins):
        raise LastAdmin("this would leave no active admin: promote another user to admin first")
