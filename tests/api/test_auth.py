"""Login, lockout, logout, refresh, me, register and change-password."""
from datetime import timedelta

from flask_jwt_extended import create_access_token

from api.auth.access import VERIFIED_TOKENS_KEY
from models import User, utcnow
from tests.api.conftest import LOGIN, PASSWORD, bearer

ME = "/api/v1/auth/me"


def test_given_a_user_when_logging_in_then_tokens_and_me_work(client, make_user):
    make_user("ann", "operator")

    response = client.post(LOGIN, json={"username": "ann", "password": PASSWORD})

    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 30 * 60
    assert body["user"]["username"] == "ann" and "password_hash" not in body["user"]
    me = client.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["username"] == "ann" and me.json["role"] == "operator" and me.json["auth_method"] == "jwt"


def test_given_a_wrong_password_or_unknown_user_when_logging_in_then_the_same_401(client, make_user):
    make_user("ann")

    wrong = client.post(LOGIN, json={"username": "ann", "password": "nope-nope"})
    unknown = client.post(LOGIN, json={"username": "bob", "password": "nope-nope"})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["message"] == unknown.json["message"] == "invalid username or password"


def test_given_max_failed_logins_when_logging_in_then_423_locked_even_with_the_right_password(make_app):
    app = make_app(**{"security.max_login_attempts": 3, "security.lockout_minutes": 15})
    client = app.test_client()
    with app.app_context():
        from api.users.accounts import create_user
        create_user("ann", PASSWORD)

    statuses = [client.post(LOGIN, json={"username": "ann", "password": "wrong-pass"}).status_code
                for _ in range(3)]
    locked = client.post(LOGIN, json={"username": "ann", "password": PASSWORD})

    assert statuses == [401, 401, 423]
    assert locked.status_code == 423
    assert "locked" in locked.json["message"]
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60 + 1


def test_given_failed_logins_then_an_unknown_user_is_answered_exactly_as_an_existing_one(make_app):
    # Given an existing user and a name nobody has
    app = make_app(**{"security.max_login_attempts": 3, "security.lockout_minutes": 15})
    client = app.test_client()
    with app.app_context():
        from api.users.accounts import create_user
        create_user("ann", PASSWORD)

    # When both are tried with wrong passwords, then once more (ann with her right one)
    def attempts(username, last_password):
        answers = [client.post(LOGIN, json={"username": username, "password": "wrong-pass"}) for _ in range(3)]
        answers.append(client.post(LOGIN, json={"username": username, "password": last_password}))
        return [(a.status_code, a.json["message"].split(";")[0]) for a in answers]

    # Then the answers are the same: nothing tells that ann exists
    assert attempts("ann", PASSWORD) == attempts("nobody", "a-guess") == [
        (401, "invalid username or password"), (401, "invalid username or password"),
        (423, "account locked after too many failed logins"), (423, "account locked after too many failed logins")]


def test_given_one_address_failing_many_logins_then_only_that_address_waits_and_not_the_management_budget(make_app):
    # Given a management budget smaller than the failures, and a per-address limit of failed logins
    app = make_app(**{"rate_limits.management": "5 per minute", "security.max_login_failures_per_ip": 8,
                      "security.max_login_attempts": 100})
    client = app.test_client()
    with app.app_context():
        from api.users.accounts import create_user
        create_user("ann", PASSWORD)

    # When one address fails 8 logins (more than the management budget)
    failures = [client.post(LOGIN, json={"username": f"guess{i}", "password": "wrong-pass"}).status_code
                for i in range(8)]

    # Then each was a plain 401; the 9th attempt from there waits (429), another address still logs in
    assert failures == [401] * 8
    assert client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).status_code == 429
    other = client.post(LOGIN, json={"username": "ann", "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200


def test_given_a_lock_that_expired_when_logging_in_then_it_succeeds_and_failures_reset(client, make_user):
    user = make_user("ann")
    User.update(locked_until=utcnow() - timedelta(seconds=1), failed_logins=2).where(User.id == user.id).execute()

    response = client.post(LOGIN, json={"username": "ann", "password": PASSWORD})

    assert response.status_code == 200
    assert User.get_by_id(user.id).failed_logins == 0


def test_given_a_disabled_user_when_logging_in_then_403_and_its_tokens_stop_working(client, make_user, login):
    user = make_user("ann")
    token = login("ann")["access_token"]
    User.update(is_active=False).where(User.id == user.id).execute()

    assert client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).status_code == 403
    assert client.get(ME, headers=bearer(token)).status_code == 401


def test_given_a_token_once_verified_when_used_again_then_only_expiry_and_revocation_are_checked(
        app, client, make_user, login):
    # Given a token whose signature was verified on its first use
    make_user("ann")
    token = login("ann")["access_token"]
    assert client.get(ME, headers=bearer(token)).status_code == 200

    # Then it is remembered, and still refused the moment its user's tokens are revoked
    assert token in app.extensions[VERIFIED_TOKENS_KEY]
    with app.app_context():
        from api.auth.tokens import revoke_all_tokens
        revoke_all_tokens(User.get(User.username == "ann").id)
    assert client.get(ME, headers=bearer(token)).json["message"] == "token has been revoked"


def test_given_a_token_when_logging_out_then_it_is_revoked(client, make_user, login):
    make_user("ann")
    tokens = login("ann")

    response = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]),
                           json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 204
    after = client.get(ME, headers=bearer(tokens["access_token"]))
    assert after.status_code == 401 and after.json["message"] == "token has been revoked"
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_given_a_refresh_token_when_refreshing_then_a_new_access_token(client, make_user, login):
    make_user("ann")
    tokens = login("ann")

    response = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))

    assert response.status_code == 200
    assert client.get(ME, headers=bearer(response.json["access_token"])).status_code == 200


def test_given_token_types_swapped_when_used_then_401(client, make_user, login):
    make_user("ann")
    tokens = login("ann")

    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.get(ME, headers=bearer(tokens["refresh_token"])).status_code == 401


def test_given_an_expired_or_forged_token_when_used_then_401_json(app, client, make_user):
    user = make_user("ann")
    with app.app_context():
        expired = create_access_token(identity=str(user.id), expires_delta=timedelta(seconds=-5))

    response = client.get(ME, headers=bearer(expired))
    forged = client.get(ME, headers=bearer(expired[:-4] + "AAAA"))

    assert response.status_code == 401 and response.json["message"] == "token has expired"
    assert forged.status_code == 401 and forged.json["code"] == 401


def test_given_registration_closed_when_anonymous_registers_then_401_and_viewer_403(client, headers_for):
    body = {"username": "eve", "password": "long-enough-pw"}

    assert client.post("/api/v1/auth/register", json=body).status_code == 401
    assert client.post("/api/v1/auth/register", json=body, headers=headers_for("viewer")).status_code == 403


def test_given_an_admin_when_registering_someone_then_the_role_is_honoured(client, headers_for):
    response = client.post("/api/v1/auth/register", headers=headers_for("admin"),
                           json={"username": "olga", "password": "long-enough-pw", "role": "operator"})

    assert response.status_code == 201
    assert response.json["role"] == "operator" and "password" not in response.json


def test_given_registration_open_when_anonymous_registers_then_a_viewer(make_app):
    client = make_app(**{"security.allow_registration": True}).test_client()

    created = client.post("/api/v1/auth/register", json={"username": "eve", "password": "long-enough-pw"})
    as_admin = client.post("/api/v1/auth/register",
                           json={"username": "mallory", "password": "long-enough-pw", "role": "admin"})

    assert created.status_code == 201 and created.json["role"] == "viewer"
    assert as_admin.status_code == 403
    assert client.post(LOGIN, json={"username": "eve", "password": "long-enough-pw"}).status_code == 200


def test_given_a_short_password_when_registering_then_422_names_the_minimum(client, headers_for):
    response = client.post("/api/v1/auth/register", headers=headers_for("admin"),
                           json={"username": "olga", "password": "short"})

    assert response.status_code == 422
    assert response.json["errors"]["json"]["password"] == ["Must be at least 8 characters long."]


def test_given_a_taken_username_when_registering_then_409(client, headers_for):
    response = client.post("/api/v1/auth/register", headers=headers_for("admin"),
                           json={"username": "admin-user", "password": "long-enough-pw"})

    assert response.status_code == 409


def test_given_the_wrong_current_password_when_changing_then_400(client, headers_for):
    response = client.post("/api/v1/auth/change-password", headers=headers_for("viewer"),
                           json={"current_password": "not-it-at-all", "new_password": "a-new-password"})

    assert response.status_code == 400


def test_given_a_password_change_then_old_tokens_die_and_the_new_password_logs_in(client, make_user, login):
    make_user("ann")
    old = login("ann")

    response = client.post("/api/v1/auth/change-password", headers=bearer(old["access_token"]),
                           json={"current_password": PASSWORD, "new_password": "a-new-password"})

    assert response.status_code == 200
    assert client.get(ME, headers=bearer(old["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(old["refresh_token"])).status_code == 401
    assert client.get(ME, headers=bearer(response.json["access_token"])).status_code == 200
    assert login("ann", "a-new-password")["access_token"]
    assert client.post(LOGIN, json={"username": "ann", "password": PASSWORD}).status_code == 401


def test_given_a_stored_hash_when_logging_in_then_it_is_argon2id(client, make_user):
    user = make_user("ann")

    assert User.get_by_id(user.id).password_hash.startswith("$argon2id$")
