"""Tools: the list with live status, add / edit / delete, start / stop / restart, and a tool's page."""
from __future__ import annotations

from api.console import rest
from api.console.blueprint import blp
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.session_cookie import page


@blp.get("/tools")
@page
def tools():
    try:
        listing = rest.get("/tools", per_page=100)
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/tools.html", "console.tools", tools=listing["items"])
