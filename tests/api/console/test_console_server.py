"""The console's server side without a browser (Flask's test client): the session cookie and its CSRF
check, the redirects of the sign-in page, `may()` read from the API's own role marks, and header
clients of the REST API answered exactly as before."""
from __future__ import annotations

import pytest
from flask import render_template_string

from tests.api.conftest import PASSWORD


@pytest.fixture
def signed_in(client, make_user):
    """signed_in(username, role): the test client holds that user's console session; returns its CSRF token."""
    def sign_in(username: str, role: str) -> str:
        make_user(username, role)
        token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json["access_token"]
        assert client.post("/session", headers={"Authorization": f"Bearer {token}"}).status_code == 204
        return client.get_cookie("mcps_csrf").value
    return sign_in


def test_the_session_cookie_authenticates_reads_and_csrf_checked_writes(client, signed_in):
    # Given an operator's console session
    csrf = signed_in("olga", "operator")

    # Then a read needs nothing more, a write needs the CSRF header, and a wrong one is refused
    assert client.get("/api/v1/auth/me").json["username"] == "olga"
    assert client.post("/api/v1/auth/api-keys", json={"name": "a"}).json["message"] == "Missing CSRF token"
    assert client.post("/api/v1/auth/api-keys", json={"name": "a"}, headers={"X-CSRF-TOKEN": "x"}).status_code == 401
    assert client.post("/api/v1/auth/api-keys", json={"name": "a"}, headers={"X-CSRF-TOKEN": csrf}).status_code == 201

    # And the console's own DELETE /session wants it too
    assert client.delete("/session").status_code == 403
    assert client.delete("/session", headers={"X-CSRF-TOKEN": csrf}).status_code == 204
    assert client.get("/").status_code == 302


def test_an_api_key_cannot_open_a_console_session(client, api_key):
    # When an API key is presented to POST /session
    response = client.post("/session", headers={"Authorization": f"Bearer {api_key('operator')}"})

    # Then it is refused: the console is for users' logins
    assert response.status_code == 403
    assert client.get_cookie("mcps_session") is None


def test_header_clients_are_answered_as_before(client, operator):
    # A request without credentials gets the same message as when tokens were read from headers only
    assert client.get("/api/v1/auth/me").json["message"] == "Missing Authorization Header"
    # A header token needs no CSRF token for a write
    assert client.post("/api/v1/auth/api-keys", json={"name": "a"}, headers=operator).status_code == 201


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/", "/\\evil.test", "javascript:alert(1)",
                                    "/%0d%0aSet-Cookie:x"])
def test_the_sign_in_page_never_sends_a_user_to_another_site(client, signed_in, target):
    signed_in("sam", "viewer")
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_sign_in_page_sends_a_signed_in_user_back_where_they_were(client, signed_in):
    signed_in("sam", "viewer")
    response = client.get("/login", query_string={"next": "/tools?status=RUNNING"})
    assert response.headers["Location"] == "/tools?status=RUNNING"


@pytest.mark.parametrize("role, allowed", [
    ("viewer", {"GET /tools"}),
    ("operator", {"GET /tools", "POST /tools/7/start", "PUT /tools/7", "POST /tools/7/call"}),
    ("admin", {"GET /tools", "POST /tools/7/start", "PUT /tools/7", "POST /tools/7/call", "POST /tools",
               "DELETE /tools/7", "GET /users"}),
])
def test_may_answers_as_the_api_would(app, client, signed_in, role, allowed):
    # Given a user of that role signed in
    signed_in(f"{role}-1", role)
    asked = ["GET /tools", "POST /tools/7/start", "PUT /tools/7", "POST /tools/7/call", "POST /tools",
             "DELETE /tools/7", "GET /users", "POST /no/such/thing"]

    # When a console template asks may() of each request
    with app.test_request_context("/", headers={"Cookie": client.get_cookie("mcps_session").key + "="
                                                + client.get_cookie("mcps_session").value}):
        answers = render_template_string(
            "{% for q in asked %}{% set m, p = q.split(' ') %}{{ q }}={{ may(m, p) }};{% endfor %}", asked=asked)

    # Then it says yes exactly to what the role may do
    granted = {part.split("=")[0] for part in answers.split(";") if part.endswith("=True")}
    assert granted == allowed


def test_in_production_the_session_cookies_are_secure(make_app):
    # Given the app in production (strong secrets, as production requires)
    from cryptography.fernet import Fernet

    app = make_app(**{"app.env": "production", "security.jwt_secret": "s" * 64,
                      "security.encryption_key": Fernet.generate_key().decode()})
    with app.app_context():
        from api.users.accounts import create_user
        create_user("pat", PASSWORD, role="viewer")
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "pat", "password": PASSWORD}).json["access_token"]

    # When a console session is opened
    response = client.post("/session", headers={"Authorization": f"Bearer {token}"})

    # Then both cookies are Secure, and the session's is httpOnly
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    assert "Secure" in cookies["mcps_session"] and "HttpOnly" in cookies["mcps_session"]
    assert "Secure" in cookies["mcps_csrf"] and "HttpOnly" not in cookies["mcps_csrf"]


def test_a_renewed_session_still_ends_with_its_login(app, client, make_user):
    # Given a console session whose token is past half of its life (it carries its login id, `sid`)
    from datetime import timedelta

    from flask_jwt_extended import create_access_token, decode_token

    user = make_user("rene", "operator")
    with app.app_context():
        old = create_access_token(identity=str(user.id), expires_delta=timedelta(seconds=60),
                                  additional_claims={"ver": 0, "role": "operator", "username": "rene",
                                                     "sid": "login-1"})
    assert client.post("/session", headers={"Authorization": f"Bearer {old}"}).status_code == 204

    # When a console page renews it
    response = client.get("/")
    renewed = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("mcps_session="))

    # Then the new token belongs to the same login, so logging that login out ends it too
    with app.app_context():
        assert decode_token(renewed.split("=", 1)[1].split(";", 1)[0])["sid"] == "login-1"
