"""API keys: shown once, stored hashed, usable as X-API-Key or Bearer, revocable, expiring, tool-scoped."""
import hashlib
from datetime import timedelta

import pytest

from api.users.accounts import create_user
from models import ApiKey, Tool, utcnow
from tests.api.conftest import LOGIN, PASSWORD, bearer

KEYS = "/api/v1/auth/api-keys"
ME = "/api/v1/auth/me"


@pytest.fixture
def operator(headers_for):
    return headers_for("operator")


def create_key(client, headers, **body):
    response = client.post(KEYS, headers=headers, json={"name": "cursor", **body})
    assert response.status_code == 201, response.json
    return response.json


def test_given_a_new_key_then_it_is_shown_once_and_stored_as_sha256(client, operator):
    created = create_key(client, operator)

    assert created["key"].startswith("mcps_") and len(created["key"]) > 40
    row = ApiKey.get_by_id(created["id"])
    assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"].startswith(row.prefix) and created["prefix"] == row.prefix
    listed = client.get(KEYS, headers=operator).json
    assert listed["total"] == 1 and "key" not in listed["items"][0]


@pytest.mark.parametrize("as_header", [lambda key: {"X-API-Key": key}, lambda key: bearer(key)])
def test_given_a_key_when_presented_then_it_authenticates_as_its_user(client, operator, as_header):
    key = create_key(client, operator)["key"]

    response = client.get(ME, headers=as_header(key))

    assert response.status_code == 200
    assert response.json["username"] == "operator-user" and response.json["auth_method"] == "api_key"
    assert response.json["api_key"]["name"] == "cursor"
    assert ApiKey.get_by_id(response.json["api_key"]["id"]).last_used_at is not None


def test_given_a_revoked_key_when_presented_then_401(client, operator):
    created = create_key(client, operator)

    assert client.delete(f"{KEYS}/{created['id']}", headers=operator).status_code == 204

    response = client.get(ME, headers={"X-API-Key": created["key"]})
    assert response.status_code == 401 and response.json["message"] == "invalid or revoked API key"
    assert client.get(KEYS, headers=operator).json["total"] == 0
    assert client.get(f"{KEYS}?include_revoked=true", headers=operator).json["total"] == 1


def test_given_an_expired_key_when_presented_then_401(client, operator):
    created = create_key(client, operator)
    ApiKey.update(expires_at=utcnow() - timedelta(seconds=1)).where(ApiKey.id == created["id"]).execute()

    response = client.get(ME, headers={"X-API-Key": created["key"]})

    assert response.status_code == 401 and response.json["message"] == "API key has expired"


def test_given_an_expiry_in_the_past_when_creating_then_422(client, operator):
    response = client.post(KEYS, headers=operator, json={"name": "old", "expires_at": "2000-01-01T00:00:00Z"})

    assert response.status_code == 422


def test_given_a_key_with_an_offset_expiry_then_it_is_stored_in_utc(client, operator):
    created = create_key(client, operator, expires_at="2999-01-01T02:00:00+02:00")

    assert created["expires_at"] == "2999-01-01T00:00:00+00:00"


def test_given_someone_elses_key_when_deleting_then_404(client, operator, headers_for):
    created = create_key(client, operator)

    assert client.delete(f"{KEYS}/{created['id']}", headers=headers_for("admin")).status_code == 404


def test_given_a_key_when_it_tries_to_manage_credentials_then_403(client, operator):
    key = {"X-API-Key": create_key(client, operator)["key"]}

    assert client.post(KEYS, headers=key, json={"name": "another"}).status_code == 403
    assert client.post("/api/v1/auth/change-password", headers=key,
                       json={"current_password": "x", "new_password": "y" * 10}).status_code == 403


def test_given_a_viewers_key_when_used_for_operator_work_then_403(with_probe_blueprint, make_app):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        create_user("vic", PASSWORD)
    token = client.post(LOGIN, json={"username": "vic", "password": PASSWORD}).json["access_token"]
    key = create_key(client, bearer(token))["key"]

    assert client.post("/api/v1/probe/tools/time/call", headers={"X-API-Key": key}).status_code == 403


def test_given_a_scoped_key_then_tool_in_scope_allows_only_its_tools(with_probe_blueprint, make_app):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        create_user("olga", PASSWORD, role="operator")
        for name in ("time", "git"):
            Tool.create(name=name, transport="stdio", command="uvx")
    jwt = bearer(client.post(LOGIN, json={"username": "olga", "password": PASSWORD}).json["access_token"])
    scoped = {"X-API-Key": create_key(client, jwt, tool_scope=["time"])["key"]}
    unscoped = {"X-API-Key": create_key(client, jwt, name="all")["key"]}

    assert client.post("/api/v1/probe/tools/time/call", headers=scoped).status_code == 200
    assert client.post("/api/v1/probe/tools/git/call", headers=scoped).status_code == 403
    assert client.post("/api/v1/probe/tools/git/call", headers=unscoped).status_code == 200
    assert client.post("/api/v1/probe/tools/git/call", headers=jwt).json["api_key"] is None
