"""Security headers on every answer, in one place: the REST API (`init_security_headers`, wired in
create_app) and the MCP front door (`SecurityHeadersASGI`, wrapped around its ASGI app).

The API answers JSON, so its policy forbids everything a browser could do with an answer (no script,
no frame, no form). The docs pages (/docs, /redoc) get a policy of their own that lets their locally
served scripts run (api/static, api/templates: no inline script). Headers are set with `setdefault`,
so a blueprint that sets its own (a web console's CSP) keeps it. HSTS is sent only on HTTPS requests,
and only when `security.hsts_max_age_s` is not 0: a plain-HTTP deployment must not pin browsers to
HTTPS it does not serve.
"""
from __future__ import annotations

from flask import Flask, Response, request

from config import Section

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc: their scripts and the spec from this origin; inline styles (both set style
# attributes, ReDoc injects <style> elements), data: images and fonts (their CSS), ReDoc's search worker.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
DOCS_PAGES = ("/docs", "/redoc")
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def hsts_value(settings: Section) -> str | None:
    max_age = int(settings.security.hsts_max_age_s)
    return f"max-age={max_age}; includeSubDomains" if max_age > 0 else None


def init_security_headers(app: Flask, settings: Section) -> None:
    hsts = hsts_value(settings)

    def add_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in COMMON.items():
            headers.setdefault(name, value)
        headers.setdefault("Content-Security-Policy", DOCS_CSP if request.path in DOCS_PAGES else API_CSP)
        if hsts and request.is_secure:
            headers.setdefault("Strict-Transport-Security", hsts)
        return response

    app.after_request(add_headers)


class SecurityHeadersASGI:
    """The same headers on every HTTP answer of an ASGI app (the MCP front door: JSON and SSE)."""

    def __init__(self, app, settings: Section):
        self.app = app
        self.hsts = hsts_value(settings)
        self._headers = [(name.lower().encode(), value.encode()) for name, value in
                         {**COMMON, "Content-Security-Policy": API_CSP}.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = list(self._headers)
        if self.hsts and scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", self.hsts.encode()))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in extra if h[0] not in present)]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)
