"""The Admin page (admins only): users, backups, schedules, system status; and what a viewer sees and
may do instead."""
from __future__ import annotations

import gzip

import requests
from playwright.sync_api import expect

from tests.api.conftest import LOGIN, PASSWORD
from tests.harness import wait_for

WAIT_MS = 60000
FINAL = ("succeeded", "failed", "cancelled")


def test_an_admin_creates_a_user_and_takes_downloads_and_restores_a_backup(console, browser_page, sign_in, admin,
                                                                           worker):
    # Given an admin on the Admin page, with a worker running
    page = browser_page()
    sign_in(page, "admin-user", next_path="/admin")
    assert page.locator("nav.nav a", has_text="Admin").count() == 1
    expect(page.locator("[data-testid=process-row][data-kind=worker]")).to_have_count(1, timeout=WAIT_MS)

    # When they create an operator without choosing a password
    page.get_by_test_id("new-username").fill("nora")
    page.get_by_test_id("new-role").select_option("operator")
    page.get_by_test_id("create-user").click()

    # Then the generated password is shown once, and it signs nora in as an operator
    page.get_by_test_id("password-shown").wait_for()
    password = page.get_by_test_id("password-value").inner_text()
    login = requests.post(console.at(LOGIN), json={"username": "nora", "password": password}, timeout=10)
    assert login.status_code == 200 and login.json()["user"]["role"] == "operator"
    nora = page.locator("[data-testid=user-row][data-username=nora]")
    nora.wait_for()

    # When they make nora a viewer
    nora.get_by_test_id("user-role").select_option("viewer")
    nora.locator("button[type=submit]").click()

    # Then the API has her a viewer
    def nora_role():
        users = requests.get(console.at("/api/v1/users"), headers=admin, params={"q": "nora"}, timeout=10).json()
        return users["items"][0]["role"]
    expect(page.locator("#flash")).to_contain_text("nora: viewer", timeout=WAIT_MS)
    assert nora_role() == "viewer"

    # When they take a backup
    page.get_by_test_id("take-backup").click()

    # Then, once its task finished, the page lists it, and it downloads as a gzipped database
    backup = page.get_by_test_id("backup-row").first
    backup.wait_for(timeout=WAIT_MS)
    with page.expect_download() as download:
        backup.get_by_test_id("download-backup").click()
    with open(download.value.path(), "rb") as file:
        assert gzip.decompress(file.read()).startswith(b"SQLite format 3")

    # When they restore it, after confirming
    backup.get_by_test_id("restore-backup").click()
    page.get_by_test_id("confirm-dialog").wait_for()
    page.get_by_test_id("confirm").click()

    # Then the restore's task succeeds, and the page is back with nora still there
    def restore_task():
        listed = requests.get(console.at("/api/v1/tasks"), headers=admin, params={"kind": "restore"}, timeout=10)
        return next((task for task in listed.json()["items"] if task["status"] in FINAL), None)
    assert wait_for(restore_task, timeout=WAIT_MS / 1000, interval=0.5)["status"] == "succeeded"
    page.locator("[data-testid=user-row][data-username=nora]").wait_for(timeout=WAIT_MS)
    assert page.console_errors == []


def test_an_admin_runs_a_schedule_now_and_sees_its_last_run(console, browser_page, sign_in, admin, worker):
    # Given an admin on the Admin page
    page = browser_page()
    sign_in(page, "admin-user", next_path="/admin")
    retention = page.locator("[data-testid=schedule-row][data-schedule=retention]")
    assert "never" in retention.inner_text()

    # When they run the retention job now
    retention.get_by_test_id("run-now").click()

    # Then its last run shows as a manual, succeeded task
    expect(page.locator("[data-testid=schedule-row][data-schedule=retention]")).to_contain_text(
        "succeeded", timeout=WAIT_MS)
    assert "manual" in page.locator("[data-testid=schedule-row][data-schedule=retention]").inner_text()
    assert page.console_errors == []


def test_a_viewer_sees_no_admin_nav_nor_buttons_it_may_not_use_and_a_forced_request_is_refused(
        console, browser_page, sign_in, client, operator, viewer):
    # Given a firing alert and a viewer signed in
    alert_id = client.post("/api/v1/monitoring/alerts", headers=operator, json={"message": "look"}).json["id"]
    page = browser_page()
    sign_in(page, "viewer-user", next_path="/alerts")

    # Then the nav has no Admin entry, and the Alerts page no button to acknowledge, resolve or add a rule
    nav = page.locator("nav.nav a").all_inner_texts()
    assert "Admin" not in nav and {"Tasks", "Logs", "Alerts", "Connect"} <= set(nav)
    assert page.locator(f"[data-alert-id='{alert_id}']").count() == 1
    for hidden in ("acknowledge", "resolve", "new-rule", "edit-rule", "raise-alert"):
        assert page.get_by_test_id(hidden).count() == 0, hidden

    # And on Connect a viewer manages their own keys: those buttons are there
    page.goto(console.at("/connect"))
    assert page.get_by_test_id("create-key").count() == 1
    assert page.console_errors == []

    # When the viewer forces the requests anyway, with its session cookie and CSRF token
    csrf = {c["name"]: c["value"] for c in page.context.cookies()}["mcps_csrf"]
    forced = {
        "acknowledge": page.request.post(console.at(f"/api/v1/monitoring/alerts/{alert_id}/acknowledge"),
                                         headers={"X-CSRF-TOKEN": csrf}),
        "create user": page.request.post(console.at("/api/v1/users"), headers={"X-CSRF-TOKEN": csrf},
                                         data={"username": "mallory", "role": "admin"}),
        "backup": page.request.post(console.at("/api/v1/system/backups"), headers={"X-CSRF-TOKEN": csrf}),
    }

    # Then the API refuses each with 403, and the Admin page itself is a 403
    assert {name: response.status for name, response in forced.items()} == dict.fromkeys(forced, 403)
    response = page.goto(console.at("/admin"))
    assert response.status == 403
    assert "admin" in page.get_by_test_id("error-message").inner_text()
    assert client.get(f"/api/v1/monitoring/alerts/{alert_id}", headers=operator).json["acknowledged_at"] is None


def test_an_admin_unlocks_a_locked_account_with_a_new_password(console, browser_page, sign_in, admin, make_user,
                                                                settings):
    # Given an account locked by wrong passwords
    make_user("lou", "operator")
    for _ in range(settings.security.max_login_attempts):
        requests.post(console.at(LOGIN), json={"username": "lou", "password": "wrong-password"}, timeout=10)
    assert requests.post(console.at(LOGIN), json={"username": "lou", "password": PASSWORD},
                         timeout=10).status_code == 423
    page = browser_page()
    sign_in(page, "admin-user", next_path="/admin")
    lou = page.locator("[data-testid=user-row][data-username=lou]")
    assert lou.get_by_test_id("locked").count() == 1

    # When the admin unlocks it, after confirming
    lou.get_by_test_id("unlock").click()
    page.get_by_test_id("confirm").click()

    # Then a new password is shown once, the row is no longer locked, and lou signs in with that password
    page.get_by_test_id("password-shown").wait_for()
    password = page.get_by_test_id("password-value").inner_text()
    expect(page.locator("[data-testid=user-row][data-username=lou]").get_by_test_id("locked")).to_have_count(0)
    assert requests.post(console.at(LOGIN), json={"username": "lou", "password": password},
                         timeout=10).status_code == 200
    assert page.console_errors == []
