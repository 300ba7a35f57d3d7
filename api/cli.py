"""`flask --app api.wsgi ...` commands: `db upgrade`, `users create-admin`, `bootstrap`.

There is no default password: an admin is created here, with a password given or generated and
printed once. (The app migrates the database when it starts, so `db upgrade` usually finds nothing.)
"""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from api.auth.passwords import check_password_rules, generate_password
from api.users.accounts import UsernameTaken, active_admins, create_user
from marshmallow import ValidationError
from models import db
from models.migrate import upgrade

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="User accounts.")


def _banner(username: str, password: str) -> None:
    line = "=" * 64
    click.echo(f"\n{line}\n  Admin account created\n    username: {username}\n    password: {password}\n"
               f"  This password is shown only once: store it now, then change it with\n"
               f"  POST /api/v1/auth/change-password.\n{line}\n")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    from api import MIGRATIONS_KEY

    applied = current_app.extensions.get(MIGRATIONS_KEY, []) + upgrade(db.obj)
    click.echo(f"applied: {', '.join(applied)}" if applied else "database schema is up to date")


@users_cli.command("create-admin")
@click.option("--username", required=True, help="Login name of the new admin.")
@click.option("--password", default=None, help="Omit to generate one (printed once).")
def create_admin(username: str, password: str | None) -> None:
    """Create an admin user."""
    generated = password is None
    password = generate_password() if generated else password
    try:
        check_password_rules(password)
    except ValidationError as error:
        raise click.UsageError(f"--password: {' '.join(error.messages)}") from None
    try:
        create_user(username, password, role="admin")
    except UsernameTaken as error:
        raise click.ClickException(f"{error}; reset its password with POST /api/v1/users/<id>/reset-password")
    if generated:
        _banner(username, password)
    else:
        click.echo(f"admin {username!r} created")


def bootstrap() -> None:
    """Migrate, then create the admin `admin` with a printed password unless an active admin exists."""
    upgrade(db.obj)
    if active_admins().exists():
        click.echo("an active admin exists: nothing to do")
        return
    password = generate_password()
    try:
        create_user("admin", password, role="admin")
    except UsernameTaken:
        raise click.ClickException(
            "no active admin, and the username 'admin' is taken by a non-admin: run "
            "`flask --app api.wsgi users create-admin --username <name>`") from None
    _banner("admin", password)


def register_cli(app: Flask) -> None:
    from api.tools.cli import tools_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tools_cli)
    app.cli.command("bootstrap")(bootstrap)
