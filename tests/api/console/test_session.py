"""Signing in and out of the console: the session cookie, CSRF, and what a failed sign-in says."""
from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from tests.api.conftest import PASSWORD


def test_sign_in_sets_an_httponly_session_and_sign_out_ends_it(console, browser_page, sign_in, make_user):
    # Given an operator
    make_user("olga", "operator")
    page = browser_page()

    # When they open the console, they are sent to the sign-in page, and sign in
    page.goto(console.at("/tools"))
    assert "/login" in page.url
    sign_in(page, "olga", next_path="/tools")

    # Then they are on the page they asked for, with an httpOnly session cookie and a readable CSRF cookie
    assert page.get_by_test_id("signed-in-user").inner_text() == "olga"
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["mcps_session"]["httpOnly"] and not cookies["mcps_csrf"]["httpOnly"]
    assert cookies["mcps_session"]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").count("mcps_session") == 0

    # And the REST API accepts the cookie for reads, but not for an unsafe request without the CSRF header
    session = {"mcps_session": cookies["mcps_session"]["value"], "mcps_csrf": cookies["mcps_csrf"]["value"]}
    assert requests.get(console.at("/api/v1/auth/me"), cookies=session, timeout=10).json()["username"] == "olga"
    refused = requests.post(console.at("/api/v1/auth/api-keys"), cookies=session, json={"name": "x"}, timeout=10)
    assert refused.status_code == 401 and "CSRF" in refused.json()["message"]
    allowed = requests.post(console.at("/api/v1/auth/api-keys"), cookies=session, json={"name": "x"}, timeout=10,
                            headers={"X-CSRF-TOKEN": session["mcps_csrf"]})
    assert allowed.status_code == 201

    # When they sign out
    page.click("#sign-out")
    page.wait_for_url(console.at("/login"))

    # Then the token is revoked (not only forgotten by the browser) and the console asks for a sign-in again
    assert requests.get(console.at("/api/v1/auth/me"), cookies=session, timeout=10).status_code == 401
    page.goto(console.at("/"))
    assert "/login" in page.url
    assert page.console_errors == []


def test_a_wrong_password_and_a_locked_account_read_as_such(console, browser_page, make_user, settings):
    # Given a viewer
    make_user("vera", "viewer")
    page = browser_page()
    page.goto(console.at("/login"))

    # When they sign in with a wrong password
    page.fill("input[name=username]", "vera")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")

    # Then the page says so
    error = page.locator("#sign-in-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "Wrong username or password."

    # When they keep trying until the account locks, then try the right password
    answered = re.compile(r"^\d+$")
    for _ in range(settings.security.max_login_attempts - 1):
        page.evaluate("document.getElementById('sign-in-error').dataset.status = ''")
        page.click("button[type=submit]")
        expect(error).to_have_attribute("data-status", answered)
    page.fill("input[name=password]", PASSWORD)
    page.evaluate("document.getElementById('sign-in-error').dataset.status = ''")
    page.click("button[type=submit]")
    expect(error).to_have_attribute("data-status", answered)

    # Then the page says the account is locked, and for how long
    assert error.get_attribute("data-status") == "423"
    assert error.inner_text().startswith("This account is locked after too many failed sign-ins. Try again in ")
    assert "/login" in page.url


def test_console_pages_forbid_inline_scripts_and_framing(console, make_user):
    # When the sign-in page is fetched
    response = requests.get(console.at("/login"), timeout=10)

    # Then it carries the console's security headers
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.text and " style=" not in response.text
