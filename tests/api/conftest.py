"""Fixtures of the API tests: an app per test (SQLite in its data dir, the real Redis under the test's
key namespace), its client and CLI runner, and users of each role with their tokens."""
from __future__ import annotations

import pytest

import api
from api import create_app
from api.users.accounts import create_user
from models import ALL_MODELS

PASSWORD = "correct-horse-battery"
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def make_app(make_settings):
    def make(**overrides):
        return create_app(make_settings(**overrides))
    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def with_probe_blueprint(monkeypatch):
    """Apps created in this test also have the probe endpoints of tests/api/probe.py."""
    monkeypatch.setattr(api, "BLUEPRINTS", [*api.BLUEPRINTS, "tests.api.probe:blp"])


@pytest.fixture
def make_user(app):
    def make(username, role="viewer", password=PASSWORD, **fields):
        with app.app_context():
            return create_user(username, password, role=role, **fields)
    return make


@pytest.fixture
def login(client):
    def do(username, password=PASSWORD) -> dict:
        response = client.post(LOGIN, json={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return response.json
    return do


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def headers_for(make_user, login):
    """`headers_for("operator")`: Authorization headers of a (new, then reused) user with that role."""
    created = set()

    def make(role, username=None):
        username = username or f"{role}-user"
        if username not in created:
            make_user(username, role)
            created.add(username)
        return bearer(login(username)["access_token"])
    return make


@pytest.fixture
def postgres_app(make_settings, postgres_database):
    """An app on this run's PostgreSQL database, emptied first (the database is shared by the run)."""
    app = create_app(make_settings(**{"database.url": postgres_database}))
    from models import db
    with db.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    db.close()
    return app
