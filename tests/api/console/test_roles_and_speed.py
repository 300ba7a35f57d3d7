"""What each role sees in the console (only the buttons its API allows), and how long the overview takes
the server with 100 tools."""
from __future__ import annotations

import statistics
import time

import pytest
from playwright.sync_api import expect

from models import Tool
from tests.api.e2e import create_tool, stdio_body

FORCE_START = """async (toolId) => {
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("mcps_csrf=")).split("=")[1];
  const response = await fetch(`/api/v1/tools/${toolId}/start`, {method: "POST", headers: {"X-CSRF-TOKEN": csrf}});
  return [response.status, (await response.json()).message];
}"""


def test_a_viewer_sees_no_start_button_and_a_forced_start_is_refused(console, client, admin, browser_page, sign_in,
                                                                      make_user):
    # Given a tool and a viewer signed in to the console
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))
    make_user("vic", "viewer")
    page = browser_page()
    sign_in(page, "vic", next_path="/tools")

    # Then the tools list shows the tool and its status, but no button to start, stop, edit, delete or add
    expect(page.locator(f'[data-tool-status="{tool["id"]}"]')).to_have_text("STOPPED")
    assert page.locator("[data-tool-action], [data-tool-delete], [data-testid=add-tool]").count() == 0
    assert page.locator("nav >> text=Admin").count() == 0

    # Nor does the tool's page, which has no "try it" form either
    page.goto(console.at(f"/tools/{tool['id']}"))
    expect(page.get_by_test_id("tool-status")).to_have_text("STOPPED")
    assert page.locator("[data-tool-action], [data-tool-delete], form.try-it").count() == 0

    # When the viewer forces the request anyway, from the console's page with its session and CSRF token
    status, message = page.evaluate(FORCE_START, tool["id"])

    # Then the API refuses it, and the tool stays stopped
    assert status == 403, message
    assert "operator" in message
    assert client.get(f"/api/v1/tools/{tool['id']}", headers=admin).json["status"] == "STOPPED"
    assert [error for error in page.console_errors if "403" not in error] == []  # (the forced request's)


def test_an_operator_may_start_and_edit_but_not_add_or_delete(console, client, admin, browser_page, sign_in,
                                                                make_user):
    # Given a tool and an operator signed in
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))
    make_user("otto", "operator")
    page = browser_page()
    sign_in(page, "otto", next_path="/tools")

    # Then they have start / stop / restart and edit, not delete nor add (admins define what runs)
    row = page.locator(f'tr[data-tool-id="{tool["id"]}"]')
    expect(row.locator("[data-tool-action=start]")).to_be_enabled()
    expect(row.locator("[data-tool-action=stop]")).to_be_disabled()  # nothing to stop yet
    assert row.locator("text=Edit").count() == 1
    assert page.locator("[data-tool-delete], [data-testid=add-tool]").count() == 0

    # And the edit form lets them change the description, not what runs
    row.locator("text=Edit").click()
    assert page.locator("input[name=command]").is_disabled()
    page.fill("textarea[name=description]", "Echoes, for the tests")
    page.click("#tool-form button[type=submit]")
    page.wait_for_url(console.at(f"/tools/{tool['id']}"))
    expect(page.locator("main")).to_contain_text("Echoes, for the tests")
    assert page.console_errors == []


def overview_server_ms(page, console) -> dict:
    """Load the overview once: the server time of the page (its Server-Timing) and of the API requests it
    makes (the event stream aside), each from sent to first byte. The page sends those requests at
    once: `api` is the time the server was busy with any of them (the union of their spans)."""
    responses = []

    def collect(response):
        responses.append(response)

    page.on("response", collect)
    page.goto(console.at("/"))
    page.wait_for_selector("#overview[data-refreshed]")
    deadline = time.monotonic() + 10
    wanted = ("/api/v1/monitoring/dashboard", "/api/v1/monitoring/metrics")
    while time.monotonic() < deadline and sum(any(w in r.url for w in wanted) for r in responses) < 4:
        page.wait_for_timeout(50)
    page.remove_listener("response", collect)
    document = next(r for r in responses if r.url.rstrip("/") == console.url)
    spans = []
    for response in responses:
        if "/api/v1/" in response.url and "/api/v1/events" not in response.url:
            timing = response.request.timing
            spans.append((timing["startTime"] + timing["requestStart"], timing["startTime"] + timing["responseStart"]))
    return {"page": float(document.headers["server-timing"].split("dur=")[1]), "api": union_ms(spans),
            "api_requests": len(spans)}


def union_ms(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def test_the_overview_takes_under_300_ms_of_server_time_with_100_tools(console, browser_page, sign_in, make_user):
    # Given 100 tools in every status
    statuses = ["RUNNING", "STOPPED", "ERROR", "STOPPED", "RUNNING"]
    Tool.insert_many([{"name": f"tool-{n:03d}", "transport": "stdio", "command": "/bin/true",
                       "status": statuses[n % len(statuses)]} for n in range(100)]).execute()
    make_user("olly", "operator")
    page = browser_page()
    sign_in(page, "olly")
    overview_server_ms(page, console)  # warm-up: first requests of a process

    # When the overview is loaded several times
    loads = [overview_server_ms(page, console) for _ in range(5)]

    # Then it shows the 100 tools, and its server time (page + its API requests) is under 300 ms
    expect(page.locator('[data-tools-status="RUNNING"]')).to_have_text("40")
    assert all(load["api_requests"] == 4 for load in loads), loads  # 2 dashboards, 2 series
    totals = [load["page"] + load["api"] for load in loads]
    print(f"\noverview server ms per load (page + its API requests): {[round(t, 1) for t in totals]}; "
          f"page alone: {[round(load['page'], 1) for load in loads]}")
    assert statistics.median(totals) < 300, loads
