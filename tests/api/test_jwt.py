"""Credentials under attack: expired, revoked and forged JWTs at the REST API and the MCP front door,
logout ending the whole login, the login lockout and the management rate limit across two gunicorn
processes (counters in the shared Redis and database), API keys and passwords as stored.

(test_auth.py covers the single-process basics: one expired token, swapped token types, the lockout.)"""
from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import timedelta

import httpx2
import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token

from api.users.accounts import create_user
from config import secret
from models import ApiKey, User, db
from tests.api.conftest import LOGIN, PASSWORD, bearer
from tests.api.proxies import initialize, post

ME = "/api/v1/auth/me"
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def forgeries(app, viewer_token: str, admin_id: int) -> dict[str, str]:
    """Tokens an attacker could make without the JWT secret, each from a viewer's real token."""
    header, payload, signature = viewer_token.split(".")
    claims = claims_of(viewer_token)
    as_admin = {**claims, "sub": str(admin_id), "role": "admin"}
    return {
        "wrong key": pyjwt.encode(as_admin, "not-the-secret-" * 4, algorithm="HS256"),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(as_admin)}.",
        "alg none, no dot": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(as_admin)}",
        "tampered claims": f"{header}.{b64(as_admin)}.{signature}",
        "tampered expiry": f"{header}.{b64({**claims, 'exp': claims['exp'] + 86400})}.{signature}",
        "HS512 with a guessed key": pyjwt.encode(as_admin, "secret" * 11, algorithm="HS512"),
        "truncated signature": f"{header}.{payload}.{signature[:-6]}",
        "garbage": "a.b.c",
    }


@pytest.fixture
def people(app, make_user, login):
    viewer, admin = make_user("vic", "viewer"), make_user("ada", "admin")
    return {"viewer": viewer, "admin": admin, "viewer_token": login("vic")["access_token"]}


def test_given_forged_tokens_then_the_rest_api_refuses_each_with_401(app, client, people):
    for name, token in forgeries(app, people["viewer_token"], people["admin"].id).items():
        for path in (ME, "/api/v1/users"):
            response = client.get(path, headers=bearer(token))
            assert response.status_code == 401 and response.json["code"] == 401, (name, path, response.json)
        # the WebSocket's own way in: the token in its query string (a browser cannot set headers there)
        ws = client.get("/api/v1/ws", query_string={"access_token": token}, headers={"Upgrade": "websocket"})
        assert ws.status_code == 401 and ws.json["code"] == 401, (name, ws.status_code)
    assert client.get(ME, headers=bearer(people["viewer_token"])).json["role"] == "viewer"  # the real one works


def test_given_expired_tokens_then_refused_whether_access_or_refresh_and_even_after_a_first_valid_use(
        app, client, people, login):
    with app.app_context():
        expired_access = create_access_token(identity=str(people["viewer"].id), expires_delta=timedelta(seconds=-1))
        expired_refresh = create_refresh_token(identity=str(people["viewer"].id), expires_delta=timedelta(seconds=-1))
        soon = create_access_token(identity=str(people["viewer"].id), expires_delta=timedelta(seconds=2))
    assert client.get(ME, headers=bearer(soon)).status_code == 200  # verified once, remembered by the app

    time.sleep(2.5)

    assert client.get(ME, headers=bearer(expired_access)).json["message"] == "token has expired"
    assert client.post("/api/v1/auth/refresh", headers=bearer(expired_refresh)).status_code == 401
    assert client.get(ME, headers=bearer(soon)).status_code == 401


def test_given_a_logout_with_the_access_token_only_then_its_refresh_token_is_refused_too(client, people, login):
    # Given a login (access + refresh token), and a second login of the same user
    first, second = login("vic"), login("vic")

    # When the first is logged out without naming its refresh token
    assert client.post("/api/v1/auth/logout", headers=bearer(first["access_token"])).status_code == 204

    # Then that login's tokens are all refused, and the other login keeps working
    assert client.get(ME, headers=bearer(first["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert refreshed.status_code == 401 and refreshed.json["message"] == "token has been revoked"
    assert client.get(ME, headers=bearer(second["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh", headers=bearer(second["refresh_token"])).status_code == 200


def test_given_a_refreshed_access_token_when_logging_out_with_it_then_the_whole_login_ends(client, people,
                                                                                                     login):
    tokens = login("vic")
    renewed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).json["access_token"]

    assert client.post("/api/v1/auth/logout", headers=bearer(renewed)).status_code == 204

    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 401  # the same login


def test_given_the_front_door_then_forged_expired_refresh_and_logged_out_tokens_are_refused(
        app, client, people, login, start_proxy):
    # Given a front door, the forged tokens, an expired token, a refresh token and a logged-out one
    proxy = start_proxy()
    with app.app_context():
        expired = create_access_token(identity=str(people["viewer"].id), expires_delta=timedelta(seconds=-1))
    tokens, gone = login("vic"), login("vic")
    initialize(proxy.url, gone["access_token"])  # accepted (and remembered by the proxy) first
    client.post("/api/v1/auth/logout", headers=bearer(gone["access_token"]))
    refused = {**forgeries(app, people["viewer_token"], people["admin"].id), "expired": expired,
               "refresh token": tokens["refresh_token"], "logged out": gone["access_token"]}

    # When each is presented as a bearer token; Then 401 with a WWW-Authenticate challenge, the real one passes
    for name, token in refused.items():
        response = post(proxy.url, token, PING)
        assert response.status_code == 401 and "invalid_token" in response.headers["www-authenticate"], name
    initialize(proxy.url, tokens["access_token"])


def test_given_stored_credentials_then_the_rows_hold_hashes_only(app, client, people, login):
    # Given an API key made through the API, and a user's password
    created = client.post("/api/v1/auth/api-keys", headers=bearer(login("vic")["access_token"]),
                          json={"name": "laptop"}).json
    raw_key = created["key"]

    # When the rows are read as stored (raw SQL, no model)
    key_row = db.execute_sql("SELECT * FROM api_key WHERE id = ?", (created["id"],)).fetchone()
    user_row = db.execute_sql('SELECT * FROM "user" WHERE username = ?', ("vic",)).fetchone()

    # Then the key is only its SHA-256 (and a short display prefix), the password only an argon2id hash
    assert raw_key not in json.dumps([str(value) for value in key_row])
    assert hashlib.sha256(raw_key.encode()).hexdigest() in key_row
    assert ApiKey.get_by_id(created["id"]).prefix == raw_key[:12] and len(raw_key) > 40
    assert PASSWORD not in json.dumps([str(value) for value in user_row])
    assert any(str(value).startswith("$argon2id$") for value in user_row)


# -- two gunicorn processes on one Redis and one database ----------------------------------------------------

@pytest.fixture
def two_webs(settings, database, start_web):
    """Two API processes (gunicorn, as in the Procfile) on the test's Redis and database: a management
    budget of 10 a minute and 3 failed logins per name."""
    env = {"MCPS_RATE_LIMITS__MANAGEMENT": "10 per minute", "MCPS_SECURITY__MAX_LOGIN_ATTEMPTS": "3"}
    return start_web(settings, extra_env=env), start_web(settings, extra_env=env)


def web_login(web, username: str, password: str = PASSWORD) -> httpx2.Response:
    return httpx2.post(f"{web.url}{LOGIN}", json={"username": username, "password": password}, timeout=30)


def test_given_two_api_processes_then_one_users_management_budget_is_shared_and_others_keep_theirs(
        app, two_webs):
    # Given two users, logged in
    with app.app_context():
        create_user("ann", PASSWORD, role="viewer")
        create_user("bob", PASSWORD, role="viewer")
    first, second = two_webs
    ann = bearer(web_login(first, "ann").json()["access_token"])
    bob = bearer(web_login(second, "bob").json()["access_token"])

    # When ann spends her 10 requests alternating between the two processes, then asks each once more
    spent = [httpx2.get(f"{web.url}/api/v1/system/info", headers=ann, timeout=30).status_code
             for web in [first, second] * 5]
    over = [httpx2.get(f"{web.url}/api/v1/system/info", headers=ann, timeout=30) for web in (first, second)]

    # Then both processes refuse her (429 with Retry-After), and bob still has his whole budget on either
    assert spent == [200] * 10
    assert [r.status_code for r in over] == [429, 429] and all(int(r.headers["Retry-After"]) > 0 for r in over)
    assert httpx2.get(f"{first.url}/api/v1/system/info", headers=bob, timeout=30).status_code == 200
    assert httpx2.get(f"{second.url}/api/v1/system/info", headers=bob, timeout=30).status_code == 200


def test_given_two_api_processes_then_failed_logins_on_either_lock_the_name_on_both(app, two_webs):
    with app.app_context():
        create_user("ann", PASSWORD, role="viewer")
    first, second = two_webs

    failures = [web_login(web, "ann", "wrong-password").status_code for web in (first, second, first)]
    right_password = [web_login(web, "ann").status_code for web in (first, second)]

    assert failures == [401, 401, 423]
    assert right_password == [423, 423]
    assert User.get(User.username == "ann").locked_until is not None


def test_given_the_default_config_then_the_lockout_comes_at_max_login_attempts_and_names_its_wait(app, client, people):
    security = app.extensions["mcps.settings"].security
    assert (security.max_login_attempts, security.lockout_minutes) == (5, 15)  # config/app.yaml's, as documented

    answers = [client.post(LOGIN, json={"username": "vic", "password": f"guess-{n}"})
               for n in range(security.max_login_attempts)]
    right = client.post(LOGIN, json={"username": "vic", "password": PASSWORD})

    assert [a.status_code for a in answers] == [401] * (security.max_login_attempts - 1) + [423]
    assert right.status_code == 423 and 14 * 60 < int(right.headers["Retry-After"]) <= 15 * 60 + 1
