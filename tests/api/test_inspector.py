"""A client nobody here wrote: the MCP Inspector's CLI (`@modelcontextprotocol/inspector --cli`, installed
pinned into .cache/npm by `make test`) against a real proxy process, over streamable HTTP with an API key
header, as a user would run it."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.harness import ROOT

INSPECTOR = ROOT / ".cache" / "npm" / "node_modules" / ".bin" / "mcp-inspector"
pytestmark = pytest.mark.skipif(
    not INSPECTOR.exists(), reason=f"{INSPECTOR} is missing: run `make test` (or `npm install --prefix .cache/npm "
                                   "--save-exact @modelcontextprotocol/inspector@2.12.0`)")


def inspector(tmp_path, url: str, key: str, *args: str) -> dict:
    """Run the Inspector CLI once; its JSON output. Its catalog file goes to the test's directory."""
    command = [str(INSPECTOR), "--cli", url, "--transport", "http", "--header", f"X-API-Key: {key}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MCP_CATALOG_PATH": str(tmp_path / "mcp.json"), "HOME": str(tmp_path)})
    print("$", " ".join(command).replace(key, "$MCPS_API_KEY"), "\n", result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr or result.stdout
    return json.loads(result.stdout)


def test_given_the_inspector_cli_when_it_lists_and_calls_tools_through_the_front_door_then_it_gets_answers(
        tmp_path, start_proxy, api_key, echo_tool):
    proxy = start_proxy()
    key = api_key()

    listed = inspector(tmp_path, proxy.url, key, "--method", "tools/list")
    called = inspector(tmp_path, proxy.url, key, "--method", "tools/call", "--tool-name", "echo",
                       "--tool-arg", "text=hello from the inspector")
    added = inspector(tmp_path, f"{proxy.url}/tools/echo", key, "--method", "tools/call", "--tool-name", "add",
                      "--tool-arg", "a=2", "b=3")

    assert {"echo", "add", "slow"} <= {tool["name"] for tool in listed["tools"]}
    assert called["content"][0]["text"] == "hello from the inspector"
    assert added["structuredContent"] == {"total": 5}


def test_given_a_wrong_key_when_the_inspector_connects_then_it_is_told_to_authenticate(tmp_path, start_proxy, database):
    proxy = start_proxy()
    command = [str(INSPECTOR), "--cli", proxy.url, "--transport", "http", "--header", "X-API-Key: mcps_wrong",
               "--method", "tools/list"]

    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MCP_CATALOG_PATH": str(tmp_path / "mcp.json"), "HOME": str(tmp_path)})

    # (our 401 with WWW-Authenticate: Bearer is what sends an MCP client to its authorization flow)
    assert result.returncode != 0
    assert json.loads(result.stderr)["error"]["code"] == "auth_required"
