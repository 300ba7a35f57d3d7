"""`may(method, path)`: may the signed-in user make this REST request? Read from the API itself: the
role its view requires (`require_role` marks each view with `required_role`), checked with
policy.access.has_role, so that a template shows only the buttons its user can use.

    {% if may("POST", "/tools/" ~ tool.id ~ "/start") %}<button ...>Start</button>{% endif %}

(`path` is relative to /api/v1.) A view without a role mark, or a path the API does not have, is False.
"""
from __future__ import annotations

import re

from flask import current_app, g
from werkzeug.exceptions import HTTPException

from api.console import session_cookie
from policy.access import has_role


def required_role(method: str, path: str) -> str | None:
    """The role the REST API requires for `method path`, or None when it has no such (marked) view."""
    from api import API_PREFIX

    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(API_PREFIX + path, method=method.upper())
    except HTTPException:
        return None
    view = current_app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class is not None else view
    return getattr(handler, "required_role", None)


_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def may(method: str, path: str) -> bool:
    user = session_cookie.signed_in_user()
    if user is None or not user.is_active:
        return False
    # One lookup per view, not per tool: /tools/1/start and /tools/2/start are the same view.
    shape = (method.upper(), _ID_SEGMENT.sub("/1", path))
    cache = g.setdefault("console_may", {})
    if shape not in cache:
        role = required_role(*shape)
        cache[shape] = role is not None and has_role(user, role)
    return cache[shape]
