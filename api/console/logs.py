"""Logs: full-text search (GET /logs/search) or the plain list (GET /logs), filtered by kind, level,
tool and time range, page by page, with CSV / JSON lines export links to GET /logs/export."""
from __future__ import annotations

from urllib.parse import urlencode

from api.console import formats  # noqa: F401  (its template filters)
from api.console import rest
from api.console.blueprint import blp
from api.console.listing import PAGE_SIZE, current_page, filters_from_query
from api.console.pages import render_page, rest_error_page
from api.console.rest import RestError
from api.console.session_cookie import page
from api.logs.schemas import LEVELS
from models.logs import CATEGORIES

FILTERS = ("q", "kind", "min_level", "tool", "since", "until")


def export_url(filters: dict, fmt: str) -> str:
    from api import API_PREFIX

    return f"{API_PREFIX}/logs/export?{urlencode({**filters, 'format': fmt})}"


@blp.get("/logs")
@page
def logs():
    filters = filters_from_query(FILTERS)
    query = {name: value for name, value in filters.items() if name != "q"}
    try:
        if "q" in filters:
            listing = rest.get("/logs/search", q=filters["q"], **query, page=current_page(), page_size=PAGE_SIZE)
        else:
            listing = rest.get("/logs", **query, page=current_page(), page_size=PAGE_SIZE)
        tools = rest.get("/tools", page_size=100)["items"]
    except RestError as error:
        return rest_error_page(error)
    return render_page("console/logs.html", "console.logs", listing=listing, filters=filters,
                       tool_names={tool["id"]: tool["name"] for tool in tools}, levels=LEVELS, kinds=CATEGORIES,
                       exports={fmt: export_url(filters, fmt) for fmt in ("csv", "jsonl")})
