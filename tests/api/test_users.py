"""/users: admin CRUD, pagination, never a password hash, always one active admin."""
from datetime import timedelta

import pytest

from models import User, utcnow
from tests.api.conftest import LOGIN, bearer

USERS = "/api/v1/users"


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


def test_given_an_admin_when_creating_a_user_without_password_then_one_is_generated_once(client, admin):
    response = client.post(USERS, headers=admin, json={"username": "olga", "role": "operator"})

    assert response.status_code == 201
    body = response.json
    assert body["role"] == "operator" and len(body["password"]) >= 16
    assert "password_hash" not in body
    assert client.post(LOGIN, json={"username": "olga", "password": body["password"]}).status_code == 200
    assert "password" not in client.get(f"{USERS}/{body['id']}", headers=admin).json


def test_given_users_when_listing_then_a_page_with_totals(client, admin, make_user):
    for index in range(5):
        make_user(f"user{index}")

    page = client.get(f"{USERS}?page=2&page_size=2&role=viewer", headers=admin).json

    assert page["total"] == 5 and page["pages"] == 3 and page["page"] == 2 and page["page_size"] == 2
    assert [user["username"] for user in page["items"]] == ["user2", "user3"]
    assert all("password_hash" not in user for user in page["items"])


def test_given_defaults_when_listing_then_page_1_of_20(client, admin):
    page = client.get(USERS, headers=admin).json

    assert (page["page"], page["page_size"], page["total"], page["pages"]) == (1, 20, 1, 1)


def test_given_a_page_past_the_end_when_listing_then_no_items(client, admin):
    page = client.get(f"{USERS}?page=9", headers=admin).json

    assert page["items"] == [] and page["total"] == 1


def test_given_a_user_when_updated_then_the_fields_change(client, admin, make_user):
    user = make_user("olga")

    response = client.put(f"{USERS}/{user.id}", headers=admin, json={"role": "operator", "email": "o@x.io"})

    assert response.status_code == 200
    assert (response.json["role"], response.json["email"]) == ("operator", "o@x.io")


def test_given_a_taken_username_when_renaming_then_409(client, admin, make_user):
    user = make_user("olga")

    assert client.put(f"{USERS}/{user.id}", headers=admin, json={"username": "admin-user"}).status_code == 409


def test_given_the_last_admin_when_deleting_demoting_or_disabling_then_409(client, admin):
    admin_id = User.get(User.username == "admin-user").id

    assert client.delete(f"{USERS}/{admin_id}", headers=admin).status_code == 409
    assert client.put(f"{USERS}/{admin_id}", headers=admin, json={"role": "viewer"}).status_code == 409
    assert client.put(f"{USERS}/{admin_id}", headers=admin, json={"is_active": False}).status_code == 409


def test_given_two_admins_when_one_is_deleted_then_its_tokens_die(client, admin, make_user, login):
    other = make_user("root2", "admin")
    token = login("root2")["access_token"]

    assert client.delete(f"{USERS}/{other.id}", headers=admin).status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.get(f"{USERS}/{other.id}", headers=admin).status_code == 404


def test_given_a_locked_user_when_an_admin_resets_the_password_then_it_unlocks_and_ends_sessions(
        client, admin, make_user, login):
    user = make_user("olga")
    old_token = login("olga")["access_token"]
    User.update(locked_until=utcnow() + timedelta(minutes=10)).where(User.id == user.id).execute()

    response = client.post(f"{USERS}/{user.id}/reset-password", headers=admin)

    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(old_token)).status_code == 401
    assert client.post(LOGIN, json={"username": "olga", "password": response.json["password"]}).status_code == 200


def test_given_a_chosen_password_when_resetting_then_it_is_not_echoed(client, admin, make_user, login):
    user = make_user("olga")

    response = client.post(f"{USERS}/{user.id}/reset-password", headers=admin, json={"password": "chosen-one-pw"})

    assert response.status_code == 200 and response.json["password"] is None
    assert login("olga", "chosen-one-pw")["access_token"]
