"""The REST API, called in this process as the console's signed-in user: the same views, the same
authorization, the same answers as for the browser or any client; nothing is read behind its back.

    tools = rest.get("/tools", page_size=100)["items"]
    task = rest.post("/tools/3/start")          # unsafe: needs the CSRF header the browser sent (htmx does)

The sub-request carries this request's cookies and X-CSRF-TOKEN header, runs in a fresh app context
(its own `g`) and goes through the whole app: rate limits, audit, error shape. An error answer raises
RestError with the API's status and message.
"""
from __future__ import annotations

import json
from typing import Any

from flask import current_app, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from api.auth.tokens import CSRF_HEADER


class RestError(Exception):
    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return str(self.body.get("message") or f"HTTP {self.status}")


def call(method: str, path: str, *, query: dict | None = None, json_body: Any = None) -> Any:
    """`method` /api/v1`path` as the signed-in user; the decoded JSON answer (None for 204)."""
    from api import API_PREFIX

    headers = {"Accept": "application/json"}
    for name in ("Cookie", CSRF_HEADER, "User-Agent"):
        if request.headers.get(name):
            headers[name] = request.headers[name]
    query = {name: value for name, value in (query or {}).items() if value is not None}
    builder = EnvironBuilder(path=API_PREFIX + path, method=method, query_string=query, headers=headers,
                             json=json_body, environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"})
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    with current_app.app_context():  # a fresh `g`: the sub-request authenticates on its own
        app_iter, status, _headers = run_wsgi_app(current_app.wsgi_app, environ, buffered=True)
        raw = b"".join(app_iter)
    code = int(status.split(" ", 1)[0])
    body = json.loads(raw) if raw and raw[:1] in (b"{", b"[") else None
    if code >= 400:
        raise RestError(code, body)
    return body


def get(path: str, **query) -> Any:
    return call("GET", path, query=query)


def post(path: str, body: Any = None, **query) -> Any:
    return call("POST", path, query=query, json_body=body)


def put(path: str, body: Any = None, **query) -> Any:
    return call("PUT", path, query=query, json_body=body)


def delete(path: str, **query) -> Any:
    return call("DELETE", path, query=query)
