"""The Alerts page: acknowledging an alert, and the rules an admin adds."""
from __future__ import annotations

ALERTS = "/api/v1/monitoring/alerts"


def test_an_operator_acknowledges_a_firing_alert(console, browser_page, sign_in, client, operator):
    # Given a firing alert raised by hand
    raised = client.post(ALERTS, headers=operator, json={"message": "disk almost full on db-1", "severity": "critical"})
    assert raised.status_code == 201, raised.json
    alert_id = raised.json["id"]
    page = browser_page()
    sign_in(page, "operator-user", next_path="/alerts")

    # When the operator acknowledges it on the Alerts page
    row = page.locator(f"[data-alert-id='{alert_id}']")
    assert "disk almost full on db-1" in row.inner_text()
    row.get_by_test_id("acknowledge").click()

    # Then the row says so without a reload, and the API has it acknowledged by them
    row.get_by_test_id("alert-acknowledged").wait_for()
    assert row.get_by_test_id("acknowledge").count() == 0
    acknowledged = client.get(f"{ALERTS}/{alert_id}", headers=operator).json
    assert acknowledged["acknowledged_at"] is not None and acknowledged["status"] == "firing"
    assert page.console_errors == []


def test_an_admin_adds_a_rule_and_a_viewer_sees_it_without_the_buttons(console, browser_page, sign_in, client,
                                                                         admin, operator, viewer):
    # Given an admin on the Alerts page
    page = browser_page()
    sign_in(page, "admin-user", next_path="/alerts")

    # When they add a rule
    form = page.get_by_test_id("new-rule")
    form.locator("input[name=name]").fill("queue-backlog")
    form.locator("select[name=metric]").select_option("queue.depth")
    form.locator("input[name=threshold]").fill("250")
    form.locator("button[type=submit]").click()

    # Then it is listed after the reload, and stored
    page.locator("[data-testid=rule-row]", has_text="queue-backlog").wait_for()
    rules = client.get("/api/v1/monitoring/alert-rules", headers=admin).json["items"]
    assert [(r["metric"], r["threshold"]) for r in rules if r["name"] == "queue-backlog"] == [("queue.depth", 250.0)]
    rule = page.locator("[data-testid=rule-row]", has_text="queue-backlog")

    # When they raise its threshold and disable it
    rule.locator("input[name=threshold]").fill("300")
    rule.locator("input[name=enabled]").uncheck()
    rule.locator("button[type=submit]").click()

    # Then the rule is changed, and the default rules (which may only be disabled) have no Delete button
    page.locator("#flash", has_text="Rule saved").wait_for()
    changed = [r for r in client.get("/api/v1/monitoring/alert-rules", headers=admin).json["items"]
               if r["name"] == "queue-backlog"]
    assert [(r["threshold"], r["enabled"]) for r in changed] == [(300.0, False)]
    assert page.locator("[data-testid=rule-row]", has_text="host_cpu").locator("[data-delete-rule]").count() == 0
    assert page.console_errors == []

    # And a viewer sees the rule and a firing alert, with no form and no button to change them
    assert client.post(ALERTS, headers=operator, json={"message": "seen by a viewer"}).status_code == 201
    viewer_page = browser_page()
    sign_in(viewer_page, "viewer-user", next_path="/alerts")
    assert viewer_page.locator("[data-testid=rule-row]", has_text="queue-backlog").count() == 1
    assert viewer_page.locator("[data-testid=alert-row]", has_text="seen by a viewer").count() == 1
    for hidden in ("new-rule", "edit-rule", "acknowledge", "resolve", "raise-alert"):
        assert viewer_page.get_by_test_id(hidden).count() == 0, hidden
    assert viewer_page.console_errors == []
