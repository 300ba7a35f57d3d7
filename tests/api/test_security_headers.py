"""Security headers (api/security_headers.py) on every answer of the REST API, errors included; the docs
pages still work under their Content-Security-Policy, their scripts served by this app.

(Every endpoint's answer, for every role, is checked in test_rbac_matrix.py; the front door's there too.)"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from flask import Blueprint

from api.security_headers import API_CSP

EXPECTED = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def assert_secure_headers(response, csp=API_CSP):
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert response.headers["Content-Security-Policy"] == csp
    assert "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/system/health"), ("GET", "/api/v1/tools"), ("GET", "/api/v1/nowhere"),
    ("DELETE", "/api/v1/system/health"), ("GET", "/openapi.json"), ("GET", "/metrics"),
    ("GET", "/docs/assets/redoc/redoc.standalone.js"),
])
def test_given_any_answer_then_it_carries_the_security_headers_and_no_hsts_over_http(client, method, path):
    response = client.open(path, method=method)

    assert_secure_headers(response)
    assert "Strict-Transport-Security" not in response.headers


def test_given_a_view_that_crashes_then_its_500_carries_the_headers_too(with_probe_blueprint, make_app):
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = app.test_client().get("/api/v1/probe/boom")

    assert response.status_code == 500
    assert_secure_headers(response)


def test_given_the_docs_pages_then_their_csp_allows_only_scripts_of_this_origin_and_no_inline_script(client):
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert response.status_code == 200 and directives["script-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'" and directives["default-src"] == "'none'"
        # every <script> of the page has a src on this origin: nothing inline for the CSP to refuse
        page = response.get_data(as_text=True)
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
            assert body.strip() == "" and 'src="/docs/assets/' in attributes, (path, attributes, body)
    assert client.get("/docs/assets/docs/swagger-init.js").status_code == 200


def test_given_a_blueprint_that_sets_its_own_csp_then_it_keeps_it(make_app):
    app = make_app()
    own = Blueprint("own_csp", __name__)
    own.get("/console/page")(lambda: ("<p>hi</p>", 200, {"Content-Security-Policy": "default-src 'self'"}))
    app.register_blueprint(own)

    response = app.test_client().get("/console/page")

    assert response.headers["Content-Security-Policy"] == "default-src 'self'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_given_https_then_hsts_and_never_when_switched_off(make_app):
    on = make_app().test_client().get("/api/v1/system/health", base_url="https://localhost")
    off = make_app(**{"security.hsts_max_age_s": 0}).test_client().get(
        "/api/v1/system/health", base_url="https://localhost")

    assert on.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in off.headers


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
def test_given_a_browser_then_the_docs_pages_render_under_their_csp_without_violations(settings, database, start_web):
    # Given the API under gunicorn
    web = start_web(settings)

    # When a headless browser opens each docs page and runs its scripts
    def render(path):
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                               "--virtual-time-budget=10000", "--dump-dom", web.url + path],
                              capture_output=True, text=True, timeout=120)
        return done.stdout, [line for line in done.stderr.splitlines()
                             if "Content Security Policy" in line and "cdn.redoc.ly" not in line]

    swagger, swagger_violations = render("/docs")
    redoc, redoc_violations = render("/redoc")

    # Then both rendered the operations (their scripts ran) and the browser refused nothing of theirs
    # (ReDoc's "powered by" logo from its CDN is refused, as it should be)
    assert swagger.count("opblock-summary-path") > 50 and swagger_violations == []
    assert "Log in: an access token" in redoc and redoc_violations == []
