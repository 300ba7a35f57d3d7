"""The tools pages for an admin: defining tools by hand (stdio and HTTP), editing, deleting with a
confirmation, and a "try it" form for arguments of every kind, with text, JSON and image results."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.api.e2e import create_tool, start_tool, stdio_body

TYPED_SERVER = str(Path(__file__).with_name("typed_server.py"))


def test_an_admin_defines_edits_and_deletes_tools_by_hand(console, client, admin, browser_page, sign_in, make_user):
    # Given an admin on the form to add a tool
    make_user("ada", "admin")
    page = browser_page()
    sign_in(page, "ada", next_path="/tools/new")

    # When they add a stdio server with arguments and an environment
    page.fill("#tool-form input[name=name]", "clock")
    page.fill("#tool-form textarea[name=description]", "What time it is")
    page.fill("#tool-form input[name=command]", sys.executable)
    page.fill("#tool-form textarea[name=args]", "-m\nmcp_server_time")
    page.fill("#tool-form textarea[name=env]", "TZ=UTC\nSECRET=hunter2")
    assert page.locator("#tool-form input[name=url]").is_hidden()
    page.click("#tool-form button[type=submit]")

    # Then they are on its page, and the API has it as they typed it, its secret masked
    page.wait_for_url(re.compile(r"/tools/\d+$"))
    expect(page.locator("main")).to_contain_text("What time it is")
    clock = client.get("/api/v1/tools/clock", headers=admin).json
    assert (clock["command"], clock["args"], clock["env"]) == (sys.executable, ["-m", "mcp_server_time"],
                                                              {"TZ": "********", "SECRET": "********"})

    # When they add a streamable HTTP server, with a header
    page.goto(console.at("/tools/new"))
    page.fill("#tool-form input[name=name]", "remote")
    page.select_option("#transport", "streamable_http")
    assert page.locator("#tool-form input[name=command]").is_hidden()
    page.fill("#tool-form input[name=url]", "https://mcp.example.test/mcp")
    page.fill("#tool-form textarea[name=headers]", "Authorization: Bearer abc")
    page.click("#tool-form button[type=submit]")
    page.wait_for_url(re.compile(r"/tools/\d+$"))
    remote = client.get("/api/v1/tools/remote", headers=admin).json
    assert (remote["transport"], remote["url"], remote["headers"]) == (
        "streamable_http", "https://mcp.example.test/mcp", {"Authorization": "********"})

    # When they edit the stdio tool's arguments, leaving its masked environment as it is
    page.goto(console.at(f"/tools/{clock['id']}/edit"))
    expect(page.locator("#tool-form textarea[name=env]")).to_have_value("TZ=********\nSECRET=********\n")
    page.fill("#tool-form textarea[name=args]", "-m\nmcp_server_time\n--local-timezone\nUTC")
    page.click("#tool-form button[type=submit]")
    page.wait_for_url(console.at(f"/tools/{clock['id']}"))

    # Then the arguments changed and the secrets were kept
    from models import Tool
    stored = Tool.get_by_id(clock["id"])
    assert stored.args == ["-m", "mcp_server_time", "--local-timezone", "UTC"]
    assert stored.env == {"TZ": "UTC", "SECRET": "hunter2"}

    # When a bad definition is sent, the form says what is wrong
    page.goto(console.at("/tools/new"))
    page.fill("#tool-form input[name=name]", "Not A Slug")
    page.fill("#tool-form input[name=command]", "x")
    page.click("#tool-form button[type=submit]")
    expect(page.locator("#tool-form-error")).to_contain_text("name")

    # When they delete a tool from the list, they are asked first; cancelling keeps it
    page.goto(console.at("/tools"))
    row = page.locator(f'tr[data-tool-id="{remote["id"]}"]')
    row.locator("[data-tool-delete]").click()
    expect(page.locator("#delete-dialog")).to_be_visible()
    expect(page.locator("#delete-dialog")).to_contain_text("Delete remote?")
    page.click("#delete-dialog button[value=cancel]")
    assert client.get("/api/v1/tools/remote", headers=admin).status_code == 200

    # And confirming deletes it
    row.locator("[data-tool-delete]").click()
    page.click("#confirm-delete")
    expect(row).to_have_count(0)
    assert client.get("/api/v1/tools/remote", headers=admin).status_code == 404
    assert [error for error in page.console_errors if "422" not in error] == []  # (the bad definition's)


def test_the_try_it_form_sends_each_kind_of_argument_and_shows_json_and_images(console, client, admin, worker,
                                                                                browser_page, sign_in, make_user):
    # Given a running server whose tools take every kind of argument
    tool = create_tool(client, admin, name="typed", transport="stdio", command=sys.executable, args=[TYPED_SERVER])
    start_tool(client, admin, tool["id"])
    make_user("otto", "operator")
    page = browser_page()
    sign_in(page, "otto", next_path=f"/tools/{tool['id']}")

    # Then the form has a field of the right kind for each argument
    form = page.locator("form.try-it[data-mcp-tool=describe]")
    expect(form.locator("input[name=name]")).to_have_attribute("data-kind", "string")
    expect(form.locator("input[name=count]")).to_have_attribute("step", "1")
    expect(form.locator("input[name=ratio]")).to_have_attribute("step", "any")
    expect(form.locator("select[name=colour] option")).to_have_text(["red", "green", "blue"])
    expect(form.locator("input[name=shout]")).to_have_attribute("type", "checkbox")
    expect(form.locator("textarea[name=tags]")).to_have_attribute("data-kind", "json")
    expect(form.locator("textarea[name=options]")).to_have_attribute("data-kind", "json")

    # When a value is not valid, the form says so before calling
    form.locator("input[name=name]").fill("ada")
    form.locator("input[name=count]").fill("3")
    form.locator("input[name=ratio]").fill("0.5")
    form.locator("textarea[name=tags]").fill("[not json")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-call-error]")).to_have_text("tags: not valid JSON")

    # When it is filled in properly and sent
    form.locator("select[name=colour]").select_option("blue")
    form.locator("input[name=shout]").check()
    form.locator("textarea[name=tags]").fill('["a", "b"]')
    form.locator("textarea[name=options]").fill('{"deep": {"x": 1}}')
    form.locator("button[type=submit]").click()

    # Then the tool got each argument with its JSON type, shown as JSON
    result = form.get_by_test_id("call-result")
    expect(result).to_have_attribute("data-state", "ok")
    structured = result.locator("pre[data-content-type=json]")
    expect(structured).to_contain_text('"name": "ADA"')
    for text in ('"count": 3', '"ratio": 0.5', '"colour": "blue"', '"deep": {', '"types": [',
                 '"str"', '"int"', '"float"', '"bool"'):
        expect(structured).to_contain_text(text)

    # When an image tool is called
    page.locator("details[data-mcp-tool=swatch] summary").click()
    swatch = page.locator("form.try-it[data-mcp-tool=swatch]")
    expect(swatch.locator("input[name=size]")).to_have_value("16")
    swatch.locator("select[name=colour]").select_option("red")
    swatch.locator("button[type=submit]").click()

    # Then the image is shown
    image = swatch.locator("img[data-content-type=image]")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 16
    assert page.console_errors == []


def test_a_start_that_fails_shows_the_error_and_the_servers_stderr(console, client, admin, worker, browser_page,
                                                                   sign_in, make_user):
    # Given a server that crashes at start, on an operator's tools list
    tool = create_tool(client, admin, **stdio_body("crash", "crashing_server.py", max_restart_attempts=0))
    make_user("otto", "operator")
    page = browser_page()
    sign_in(page, "otto", next_path="/tools")

    # When they start it
    row = page.locator(f'tr[data-tool-id="{tool["id"]}"]')
    row.locator("[data-tool-action=start]").click()

    # Then the task's line and the status say it failed, and why, without a reload
    expect(row.get_by_test_id("task-progress")).to_contain_text("start: failed", timeout=30000)
    expect(row.locator(f'[data-tool-status="{tool["id"]}"]')).to_have_text("ERROR")
    expect(page.locator("#flash")).to_contain_text("start failed")

    # And its page shows the server's own words, in the error line and in its log
    page.goto(console.at(f"/tools/{tool['id']}"))
    expect(page.locator(f'p[data-tool-error="{tool["id"]}"]')).to_contain_text("cannot open the frobnicator")
    expect(page.get_by_test_id("tool-log")).to_contain_text("cannot open the frobnicator")
    expect(page.locator("[data-tool-action=start]")).to_be_enabled()
    assert page.console_errors == []
