"""Connect a client: an API key made on the page, shown once, filled into the client snippets, copied,
and revoked."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import requests


def test_a_new_key_fills_the_cursor_snippet_which_copies_to_the_clipboard(console, browser_page, sign_in, make_user,
                                                                          settings):
    # Given a viewer on the Connect page (any user manages their own keys)
    make_user("cleo", "viewer")
    page = browser_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    sign_in(page, "cleo", next_path="/connect")
    front_door = f"http://{settings.mcp.proxy.host}:{settings.mcp.proxy.port}/mcp"
    assert page.get_by_test_id("front-door-url").inner_text() == front_door
    assert "mcps_..." in page.get_by_test_id("code-cursor-http").inner_text()

    # When they create a key
    page.get_by_test_id("key-name").fill("cleo-laptop")
    page.get_by_test_id("create-key").click()

    # Then the key is shown once, and it works on the API
    shown = page.get_by_test_id("new-key-value")
    shown.wait_for()
    key = shown.inner_text()
    assert key.startswith("mcps_")
    me = requests.get(console.at("/api/v1/auth/me"), headers={"X-API-Key": key}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "cleo"
    page.locator("[data-testid=api-key-row]", has_text="cleo-laptop").wait_for()

    # And the Cursor snippet is Cursor's mcp.json with the front door and the key
    cursor_http = json.loads(page.get_by_test_id("code-cursor-http").inner_text())
    assert cursor_http == {"mcpServers": {"mcps": {"url": front_door, "headers": {"X-API-Key": key}}}}
    # the stdio forms start this installation's bridge with the key in its environment
    cursor_stdio = json.loads(page.get_by_test_id("code-cursor-stdio").inner_text())["mcpServers"]["mcps"]
    assert os.path.samefile(cursor_stdio["command"], sys.executable)  # the web process's Python
    assert Path(cursor_stdio["env"]["PYTHONPATH"], "api", "mcp_proxy", "stdio_bridge.py").is_file()
    assert cursor_stdio["args"] == ["-m", "api.mcp_proxy", "--stdio", "--url", front_door]
    assert cursor_stdio["env"]["MCPS_API_KEY"] == key
    for other in ("claude-http", "claude-stdio", "vscode-http", "vscode-stdio"):
        assert key in page.get_by_test_id(f"code-{other}").inner_text(), other
    vscode = json.loads(page.get_by_test_id("code-vscode-http").inner_text())
    assert vscode["servers"]["mcps"] == {"type": "http", "url": front_door, "headers": {"X-API-Key": key}}

    # When they copy the Cursor snippet
    page.get_by_test_id("copy-cursor-http").click()

    # Then the clipboard holds exactly it
    page.get_by_test_id("copy-cursor-http").filter(has_text="Copied").wait_for()
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == cursor_http

    # When they revoke the key (after a confirmation)
    page.locator("[data-testid=api-key-row]", has_text="cleo-laptop").get_by_test_id("revoke-key").click()
    page.get_by_test_id("confirm").click()

    # Then it is gone from the list and refused
    page.locator("[data-testid=api-key-row]", has_text="cleo-laptop").wait_for(state="detached")
    assert requests.get(console.at("/api/v1/auth/me"), headers={"X-API-Key": key}, timeout=10).status_code == 401
    assert page.console_errors == []
