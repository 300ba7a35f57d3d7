"""CORS from settings.cors.origins (off when empty), and the pagination helper on its own."""
import pytest
from marshmallow import ValidationError

from api.pagination import PageArgs, paginate

ORIGIN = "http://localhost:3000"


def preflight(client):
    return client.options("/api/v1/auth/login", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})


def test_given_configured_origins_when_a_browser_preflights_then_it_is_allowed(make_app):
    client = make_app(**{"cors.origins": [ORIGIN], "rate_limits.management": "1 per minute"}).test_client()

    responses = [preflight(client) for _ in range(3)]

    assert all(response.headers.get("Access-Control-Allow-Origin") == ORIGIN for response in responses)
    other = client.get("/api/v1/system/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_given_no_origins_when_a_browser_preflights_then_no_cors_headers(client):
    assert "Access-Control-Allow-Origin" not in preflight(client).headers


def test_given_a_list_when_paginating_then_the_same_page_shape(app):
    with app.app_context():
        args = PageArgs().load({"page": "2", "page_size": "3"})
        assert paginate(list(range(7)), args) == {"items": [3, 4, 5], "total": 7, "page": 2, "page_size": 3,
                                                  "pages": 3}
        assert PageArgs().load({})["page_size"] == 20
        with pytest.raises(ValidationError):
            PageArgs().load({"page_size": "101"})
        with pytest.raises(ValidationError):
            PageArgs().load({"page": "0"})


def test_given_a_smaller_configured_maximum_then_it_is_enforced(make_app):
    app = make_app(**{"pagination.max_page_size": 10, "pagination.default_page_size": 5})
    with app.app_context():
        assert PageArgs().load({})["page_size"] == 5
        with pytest.raises(ValidationError):
            PageArgs().load({"page_size": "11"})
