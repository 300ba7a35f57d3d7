"""The Tasks page: a task's live progress, its result, filters and cancel, from the tasks API."""
from __future__ import annotations

from playwright.sync_api import expect


TOOLS = "/api/v1/tools"
WAIT_MS = 30000


def call_async(client, headers, tool_id, tool, arguments) -> str:
    response = client.post(f"{TOOLS}/{tool_id}/call?async=true", headers=headers,
                           json={"tool": tool, "arguments": arguments})
    assert response.status_code == 202, response.json
    return response.json["task_id"]


def test_the_list_shows_a_running_tasks_progress_then_its_result(console, browser_page, sign_in, client, operator,
                                                                 echo_tool):
    # Given a slow call running (10 steps of a second, each reported as progress)
    task_id = call_async(client, operator, echo_tool["id"], "slow", {"steps": 10, "delay": 1.0})
    page = browser_page()

    # When its caller opens the Tasks page
    sign_in(page, "operator-user", next_path="/tasks")
    row = page.locator(f"[data-task-id='{task_id}']")

    # Then its row shows the progress as it comes, then the task succeeded, without a reload
    expect(row.get_by_test_id("task-progress")).to_contain_text("/10 · step ", timeout=WAIT_MS)
    assert row.locator("progress").get_attribute("max") == "10"
    expect(row.get_by_test_id("task-status")).to_have_text("succeeded", timeout=WAIT_MS)
    assert row.get_by_test_id("task-progress").inner_text() == ""
    assert "echo" in row.inner_text() and "call" in row.inner_text()

    # And the filters keep it (succeeded calls of the tool) or leave it out (failed ones)
    page.select_option("select[name=status]", "succeeded")
    page.select_option("select[name=kind]", "call")
    page.select_option("select[name=tool_id]", label="echo")
    page.get_by_test_id("task-filters").locator("button[type=submit]").click()
    page.wait_for_url("**status=succeeded**")
    assert page.locator(f"[data-task-id='{task_id}']").count() == 1
    page.select_option("select[name=status]", "failed")
    page.get_by_test_id("task-filters").locator("button[type=submit]").click()
    page.wait_for_url("**status=failed**")
    assert page.locator(f"[data-task-id='{task_id}']").count() == 0

    # When they open the task
    page.goto(console.at(f"/tasks/{task_id}"))

    # Then it shows the tool's result
    assert page.get_by_test_id("task-status").inner_text() == "succeeded"
    result = page.get_by_test_id("task-result")
    assert result.locator("pre").first.inner_text() == "done after 10 steps"  # its text content
    assert '"result": "done after 10 steps"' in result.inner_text()  # and its structured content
    assert page.get_by_test_id("task-error").count() == 0
    assert page.console_errors == []


def test_an_operator_cancels_a_hung_call_and_sees_why_it_ended(console, browser_page, sign_in, client, operator,
                                                               echo_tool):
    # Given a call that never answers, on its task's page
    task_id = call_async(client, operator, echo_tool["id"], "hang", {})
    page = browser_page()
    sign_in(page, "operator-user", next_path=f"/tasks/{task_id}")

    # When the operator cancels it
    page.get_by_test_id("cancel-task").click()

    # Then the page turns to the cancelled task with its error
    expect(page.get_by_test_id("task-status")).to_have_text("cancelled", timeout=WAIT_MS)
    expect(page.get_by_test_id("task-error")).to_contain_text("cancelled", timeout=WAIT_MS)
    assert page.get_by_test_id("cancel-task").count() == 0
    assert page.console_errors == []
