"""Connect a client: the user's API keys (GET/POST /auth/api-keys, DELETE /auth/api-keys/{id}) and
copy-ready configurations of the MCP front door for Cursor, Claude Desktop and VS Code, over HTTP and
through the stdio bridge (`python -m api.mcp_proxy --stdio --url ...`), the new key filled in by
static/js/pages/connect.js. The front door's address is the configured mcp.proxy host and port."""
from __future__ import annotations

import sys
from pathlib import Path

from flask import render_template, request

from api.console import formats  # noqa: F401  (its template filters)
from api.console import rest
from api.console.blueprint import blp
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.session_cookie import page
from api.extensions import get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # what the bridge needs on PYTHONPATH
ANY_ADDRESS = ("", "0.0.0.0", "::")


def front_door() -> dict:
    """Where clients reach the MCP front door, and how the stdio bridge is started on this installation."""
    proxy = get_settings().mcp.proxy
    host = proxy.host
    if host in ANY_ADDRESS:  # it listens everywhere: the name this browser used for the console
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return {"url": f"http://{host}:{proxy.port}/mcp", "python": sys.executable, "pythonpath": str(PROJECT_ROOT),
            "http": "http" in proxy.protocols, "stdio": "stdio" in proxy.protocols}


def api_keys() -> list[dict]:
    return rest.get("/auth/api-keys", page_size=100)["items"]


@blp.get("/connect")
@page
def connect():
    try:
        keys = api_keys()
        tools = rest.get("/tools", page_size=100)["items"]
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/connect.html", "console.connect", keys=keys, tools=tools, door=front_door())


@blp.get("/connect/_keys")
@page
def api_key_rows():
    try:
        keys = api_keys()
    except RestError as error:
        return rest_error_page(error)
    return render_template("console/_api_key_rows.html", keys=keys)
