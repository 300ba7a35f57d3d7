"""A new operator's first session in the console, in a real browser against a real API and worker."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from playwright.sync_api import expect

MCP_SERVER_TIME = str(Path(sys.executable).with_name("mcp-server-time"))


def test_first_session_import_start_call_watch_and_sign_out(console, worker, client, admin, browser_page, sign_in,
                                                             make_user, screenshot):
    # Given a new admin, signed in for the first time
    make_user("ada", "admin")
    page = browser_page()
    sign_in(page, "ada")
    expect(page.get_by_test_id("signed-in-user")).to_have_text("ada")

    # When they add a tool by pasting the mcpServers JSON of their Claude Desktop
    page.click("text=Tools")
    page.get_by_test_id("add-tool").click()
    config = {"mcpServers": {"time": {"command": MCP_SERVER_TIME, "args": ["--local-timezone", "UTC"]}}}
    page.get_by_test_id("mcpservers-json").fill(json.dumps(config))
    page.click("#import-form button[type=submit]")

    # Then the console says it was created, and links to it
    created = page.locator("#import-result p[data-outcome=created]")
    expect(created).to_have_text("time created")
    screenshot(page, "tool-import")
    created.locator("a").click()
    page.wait_for_url(re.compile(r"/tools/time$"))
    status = page.get_by_test_id("tool-status")
    expect(status).to_have_text("STOPPED")
    tool_id = int(page.locator("#tool-page").get_attribute("data-tool-id"))

    # When they start it, they see the start task's progress, and the status turn RUNNING without a reload
    page.evaluate("window.stillTheSamePage = true")
    page.click("[data-tool-action=start]")
    expect(page.get_by_test_id("task-progress")).to_contain_text("start:")
    expect(status).to_have_text("RUNNING", timeout=30000)
    expect(page.get_by_test_id("task-progress")).to_contain_text("start: done")
    assert page.evaluate("window.stillTheSamePage") is True

    # And the capabilities appear (live), with a form generated from each MCP tool's input schema
    form = page.locator("form.try-it[data-mcp-tool=get_current_time]")
    expect(form).to_be_visible()
    expect(form.locator("input[name=timezone]")).to_have_attribute("required", "")
    expect(page.get_by_test_id("tool-resources").locator("[data-live-field=pid]")).to_have_text(re.compile(r"^\d+$"))

    # When they call get_current_time through the form
    form.locator("input[name=timezone]").fill("Europe/Paris")
    form.locator("button[type=submit]").click()

    # Then they see its result
    result = form.get_by_test_id("call-result")
    expect(result).to_have_attribute("data-state", "ok")
    expect(result).to_contain_text('"timezone": "Europe/Paris"')
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "tool-page")

    # And the overview counts the call
    page.click("nav >> text=Overview")
    expect(page.get_by_test_id("calls-total")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.locator('[data-tools-status="RUNNING"]')).to_have_text("1")
    screenshot(page, "overview")

    # When the tool is stopped meanwhile (here through the API), the overview follows without a reload
    page.evaluate("window.stillTheSamePage = true")
    stopped = client.post(f"/api/v1/tools/{tool_id}/stop?wait=true", headers=admin)
    assert stopped.status_code == 200, stopped.json
    expect(page.locator('[data-tools-status="STOPPED"]')).to_have_text("1")
    expect(page.locator('[data-tools-status="RUNNING"]')).to_have_text("0")
    assert page.evaluate("window.stillTheSamePage") is True

    # When they come back to the tool and start it again, its log shows the new process live
    page.click("nav >> text=Tools")
    screenshot(page, "tools")
    page.click("#tools >> text=time")
    log = page.get_by_test_id("tool-log")
    expect(log).to_contain_text("stopped")
    started_before = log.inner_text().count("started pid=")
    page.evaluate("window.stillTheSamePage = true")
    page.click("[data-tool-action=start]")
    expect(page.get_by_test_id("task-progress")).to_contain_text("start: done", timeout=30000)
    # (A function, not an expression: the page's CSP forbids Playwright's eval of a string.)
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=tool-log]').innerText.split('started pid=').length - 1 > before",
        arg=started_before)
    assert page.evaluate("window.stillTheSamePage") is True

    # When they create an API key on the Connect page and copy the Cursor snippet
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    page.click("nav >> text=Connect")
    page.get_by_test_id("key-name").fill("ada-cursor")
    page.get_by_test_id("create-key").click()
    key = page.get_by_test_id("new-key-value")
    expect(key).to_contain_text("mcps_")
    page.get_by_test_id("copy-cursor-http").click()
    page.get_by_test_id("copy-cursor-http").filter(has_text="Copied").wait_for()

    # Then the clipboard holds Cursor's mcp.json with the front door and that key
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied["mcpServers"]["mcps"]["headers"] == {"X-API-Key": key.inner_text()}
    assert copied["mcpServers"]["mcps"]["url"].endswith("/mcp")

    # When they sign out
    page.click("#sign-out")

    # Then they are on the sign-in page, and the console asks them to sign in again
    page.wait_for_url(console.at("/login"))
    page.goto(console.at("/tools/time"))
    assert "/login" in page.url
    assert page.console_errors == []
