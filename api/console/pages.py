"""What page modules share: rendering a page of the nav, and a REST error as a page or an htmx fragment."""
from __future__ import annotations

from flask import render_template, request

from api.console.rest import RestError


def render_page(template: str, active_page: str, **context):
    """A full page; `active_page` is its nav endpoint (e.g. "console.tools")."""
    return render_template(template, active_page=active_page, **context)


def rest_error_page(error: RestError):
    """The API refused or failed: its status and message, as a page (or a fragment for htmx)."""
    if request.headers.get("HX-Request"):
        return render_template("console/_error.html", status=error.status, message=error.message), error.status
    return render_template("console/error.html", status=error.status, message=error.message,
                           active_page=None), error.status
