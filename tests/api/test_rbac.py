"""Access control over EVERY /api/v1 endpoint of the app, including those added after these tests.

A new endpoint is covered automatically: it must answer 401 without credentials, and 403 to a viewer
when it writes, unless it is added to one of the explicit allowlists below.
"""
import pytest

from api.ids import IdConverter

from tests.api.conftest import bearer

PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/system/health"),
}
# Writes a viewer may do on their own account. (refresh takes a refresh token: 401 with an access token.)
SELF_SERVICE = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/change-password"),
    ("POST", "/api/v1/auth/api-keys"),
    ("DELETE", "/api/v1/auth/api-keys/<id:key_id>"),
}
# Reads that need more than the viewer role.
PRIVILEGED_READS = {
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/<id:user_id>"),
    ("GET", "/api/v1/tools/export"),  # can include secrets
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def api_endpoints(app):
    """(method, rule, concrete url) of every /api/v1 route, with placeholders for its arguments."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        values = {name: 999999 if isinstance(converter, IdConverter) else "nonexistent"
                  for name, converter in rule._converters.items()}
        url = adapter.build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, url


def call(client, method, url, headers=None):
    # Writes carry an empty JSON body: if validation ran before the access check it would answer 422.
    body = {"json": {}} if method in WRITES else {}
    return client.open(url, method=method, headers=headers or {}, **body)


@pytest.fixture
def endpoints(app):
    found = list(api_endpoints(app))
    assert len(found) >= 15
    return found


def test_every_allowlisted_endpoint_exists(endpoints):
    known = {(method, rule) for method, rule, _url in endpoints}
    assert (PUBLIC | SELF_SERVICE | PRIVILEGED_READS) <= known


def test_given_no_credentials_when_calling_any_endpoint_then_401_json_unless_public(client, endpoints):
    wrong = []
    for method, rule, url in endpoints:
        response = call(client, method, url)
        if (method, rule) in PUBLIC:
            if response.status_code in (401, 403):
                wrong.append((method, rule, response.status_code))
        elif response.status_code != 401 or response.json.get("code") != 401:
            wrong.append((method, rule, response.status_code))
    assert wrong == [], "expected 401 without credentials"


def test_given_a_viewer_when_writing_anywhere_then_403_unless_self_service(client, endpoints, make_user, login):
    make_user("vic", "viewer")
    wrong = []
    for method, rule, url in endpoints:
        if method not in WRITES or (method, rule) in PUBLIC:
            continue
        response = call(client, method, url, bearer(login("vic")["access_token"]))  # fresh: logout revokes
        expected_forbidden = (method, rule) not in SELF_SERVICE
        if expected_forbidden != (response.status_code == 403):
            wrong.append((method, rule, response.status_code))
        elif expected_forbidden and response.json.get("code") != 403:
            wrong.append((method, rule, "not JSON"))
    assert wrong == [], "a viewer may only write to its own account"


def test_given_a_viewer_when_reading_then_allowed_except_privileged_reads(client, endpoints, headers_for):
    viewer = headers_for("viewer")
    wrong = []
    for method, rule, url in endpoints:
        if method != "GET":
            continue
        status = call(client, method, url, viewer).status_code
        if ((method, rule) in PRIVILEGED_READS) != (status == 403) or status == 401:
            wrong.append((method, rule, status))
    assert wrong == []


def test_given_an_admin_when_calling_any_endpoint_then_never_401_or_403(client, endpoints, make_user, login):
    make_user("root", "admin")
    wrong = []
    for method, rule, url in endpoints:
        if (method, rule) == ("POST", "/api/v1/auth/refresh"):
            continue  # takes a refresh token
        response = call(client, method, url, bearer(login("root")["access_token"]))
        if response.status_code in (401, 403):
            wrong.append((method, rule, response.status_code, response.json["message"]))
    assert wrong == []


def test_given_roles_then_admin_includes_operator_includes_viewer(app):
    from api.auth import ROLE_RANK, has_role
    from models import User

    assert ROLE_RANK["admin"] > ROLE_RANK["operator"] > ROLE_RANK["viewer"]
    assert has_role(User(role="admin"), "operator") and has_role(User(role="operator"), "viewer")
    assert not has_role(User(role="operator"), "admin") and not has_role(User(role="viewer"), "operator")
