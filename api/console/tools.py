"""Tools: the list with live status, add (a form or an `mcpServers` JSON), edit, delete, start / stop /
restart, and a tool's page (status, resources used, capabilities with a "try it" form per MCP tool, a
live log tail). Pages read through the REST API (api.console.rest); actions are the browser's REST calls
(static/js/tool-actions.js, tool-form.js, tryit.js)."""
from __future__ import annotations

from flask import request

from api.console import rest
from api.console.blueprint import blp
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.schema_form import fields_for
from api.console.session_cookie import page
from models.tools import STATUSES, TRANSPORTS

PAGE_SIZE = 100
FORM_FIELDS = ("name", "display_name", "description", "category", "tags", "transport", "command", "args", "env",
               "cwd", "url", "headers", "auto_start", "restart_on_failure")


@blp.get("/tools")
@page
def tools():
    query = {name: request.args.get(name) or None for name in ("status", "transport", "q")}
    page_number = request.args.get("page", type=int) or 1
    try:
        listing = rest.get("/tools", page=page_number, page_size=PAGE_SIZE, **query)
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/tools.html", "console.tools", tools=listing["items"], listing=listing,
                       query=query, statuses=STATUSES, transports=TRANSPORTS)


@blp.get("/tools/new")
@page
def new_tool():
    return render_page("console/tool_form.html", "console.tools", tool=None, transports=TRANSPORTS)


@blp.get("/tools/<tool_ref>")
@page
def tool(tool_ref):
    try:
        definition = rest.get(f"/tools/{tool_ref}")
        capabilities = rest.get(f"/tools/{definition['id']}/capabilities")
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/tool.html", "console.tools", tool=definition, **_capability_context(capabilities))


@blp.get("/tools/<int:tool_id>/_capabilities")
@page
def tool_capabilities(tool_id):
    """The capabilities section alone (htmx re-fetches it when the tool's status changes)."""
    try:
        definition = rest.get(f"/tools/{tool_id}")
        capabilities = rest.get(f"/tools/{tool_id}/capabilities")
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/_capabilities.html", "console.tools", tool=definition,
                       **_capability_context(capabilities))


@blp.get("/tools/<tool_ref>/edit")
@page
def edit_tool(tool_ref):
    try:
        definition = rest.get(f"/tools/{tool_ref}")
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/tool_form.html", "console.tools", tool=definition, transports=TRANSPORTS)


def _capability_context(capabilities: dict) -> dict:
    mcp_tools = [{**item, "fields": fields_for(item.get("inputSchema"))} for item in capabilities.get("tools") or []]
    return {"capabilities": capabilities, "mcp_tools": mcp_tools,
            "resources": capabilities.get("resources") or [], "prompts": capabilities.get("prompts") or []}
