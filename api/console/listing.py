"""What the list pages share: the filters of a page's query string, passed on to the REST API as they
are (the API validates them: a bad value is its 422, shown as an error page), and page links."""
from __future__ import annotations

from flask import request, url_for

PAGE_SIZE = 50


def filters_from_query(names: tuple[str, ...]) -> dict[str, str]:
    """The non-empty query-string values among `names`, in that order."""
    return {name: request.args[name].strip() for name in names if request.args.get(name, "").strip()}


def current_page() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def page_link(endpoint: str, filters: dict, page: int) -> str:
    return url_for(endpoint, **filters, page=page)
