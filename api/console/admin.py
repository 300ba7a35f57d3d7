"""Admin (admins only: GET /users answers 403 to anyone else, shown as such): users (create, role,
active, reset password / unlock), backups (take, download, restore), the periodic jobs (last and next
run, run now) and the status of every process of the platform."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import render_template

from api.console import formats  # noqa: F401  (its template filters)
from api.console import rest
from api.console.blueprint import blp
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.session_cookie import page
from models import ROLES

STALE_HEARTBEAT_S = 30


def is_locked(user: dict) -> bool:
    until = user.get("locked_until")
    return bool(until) and datetime.fromisoformat(until) > datetime.now(timezone.utc)


@blp.get("/admin")
@page
def admin():
    try:
        users = rest.get("/users", page_size=100)
        backups = rest.get("/system/backups")
        schedules = rest.get("/system/schedules")["items"]
        status = rest.get("/system/status")
    except RestError as error:
        return rest_error_page(error)
    processes = status["processes"]
    rows = [processes["web"], *processes["workers"], processes["scheduler"]]
    return render_page("console/admin.html", "console.admin", users=users, backups=backups, schedules=schedules,
                       status=status, processes=rows, proxy=processes["proxy"], roles=ROLES, is_locked=is_locked,
                       stale_s=STALE_HEARTBEAT_S)


@blp.get("/admin/_users")
@page
def user_rows():
    try:
        users = rest.get("/users", page_size=100)
    except RestError as error:
        return rest_error_page(error)
    return render_template("console/_user_rows.html", users=users, roles=ROLES, is_locked=is_locked)
