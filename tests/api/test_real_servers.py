"""Servers from the registries, managed and called over REST with a real worker: mcp-server-time and
mcp-server-git (PyPI, in the venv) and @modelcontextprotocol/server-everything (npm, installed by
`make test` under .cache/npm), over stdio and as a streamable HTTP or SSE server registered by URL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from tests.api.e2e import TOOLS, create_tool, start_tool
from tests.harness import ROOT, free_port, listening, wait_for

EVERYTHING = ROOT / ".cache" / "npm" / "node_modules" / ".bin" / "mcp-server-everything"
needs_everything = pytest.mark.skipif(
    not EVERYTHING.exists(),
    reason=f"{EVERYTHING} is missing: run `make test` (or `npm install --prefix .cache/npm "
           "@modelcontextprotocol/server-everything@2026.8.31`)")


def call(client, headers, tool_ref, tool, arguments):
    response = client.post(f"{TOOLS}/{tool_ref}/call", headers=headers, json={"tool": tool, "arguments": arguments})
    assert response.status_code == 200, response.json
    return response.json


def mcp_tool_names(client, headers, tool_ref) -> set[str]:
    return {t["name"] for t in client.get(f"{TOOLS}/{tool_ref}/capabilities", headers=headers).json["tools"]}


# -- mcp-server-time ---------------------------------------------------------------------------

def test_given_mcp_server_time_when_asked_the_time_in_utc_then_now(client, admin, operator, worker):
    tool = create_tool(client, admin, name="time", transport="stdio", command=sys.executable,
                       args=["-m", "mcp_server_time"])
    start_tool(client, admin, tool["id"])
    assert {"get_current_time", "convert_time"} <= mcp_tool_names(client, operator, "time")

    result = call(client, operator, "time", "get_current_time", {"timezone": "UTC"})

    assert result["isError"] is False
    answer = result.get("structuredContent") or json.loads(result["content"][0]["text"])
    assert answer["timezone"] == "UTC"
    told = datetime.fromisoformat(answer["datetime"])
    assert abs(told - datetime.now(timezone.utc)) < timedelta(minutes=1)


# -- mcp-server-git ----------------------------------------------------------------------------

@pytest.fixture
def git_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    git = lambda *args: subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "First commit from the test")
    (repo / "untracked.txt").write_text("new\n")
    return repo


def test_given_mcp_server_git_on_a_repo_when_status_and_log_are_asked_then_that_repo(
        client, admin, operator, worker, git_repo):
    tool = create_tool(client, admin, name="git", transport="stdio", command=sys.executable,
                       args=["-m", "mcp_server_git", "--repository", str(git_repo)])
    start_tool(client, admin, tool["id"])

    status = call(client, operator, "git", "git_status", {"repo_path": str(git_repo)})
    log = call(client, operator, "git", "git_log", {"repo_path": str(git_repo), "max_count": 5})

    assert status["isError"] is False and "untracked.txt" in status["content"][0]["text"]
    assert log["isError"] is False and "First commit from the test" in log["content"][0]["text"]


# -- @modelcontextprotocol/server-everything ---------------------------------------------------

@needs_everything
def test_given_server_everything_over_stdio_when_echo_is_called_then_echoed(client, admin, operator, worker):
    tool = create_tool(client, admin, name="everything", transport="stdio", command=str(EVERYTHING), args=["stdio"])
    start_tool(client, admin, tool["id"])
    assert {"echo", "get-sum"} <= mcp_tool_names(client, operator, "everything")

    result = call(client, operator, "everything", "echo", {"message": "over stdio"})

    assert result["isError"] is False and result["content"][0]["text"] == "Echo: over stdio"
    unknown = client.post(f"{TOOLS}/everything/call", headers=operator, json={"tool": "no-such-tool"})
    assert unknown.status_code == 200 and unknown.json["isError"] is True  # the TypeScript SDK's answer
    assert "Tool no-such-tool not found" in unknown.json["content"][0]["text"]


def serve_everything(mode: str, path: str):
    """`mcp-server-everything <mode>` on a free port (PORT): yields (url, process), kills it afterwards."""
    port = free_port()
    process = subprocess.Popen([str(EVERYTHING), mode], env={**os.environ, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def up():
        assert process.poll() is None, f"mcp-server-everything {mode} exited"
        return listening(port)

    wait_for(up, timeout=15)
    yield f"http://127.0.0.1:{port}{path}", process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def everything_http():
    yield from serve_everything("streamableHttp", "/mcp")


@pytest.fixture
def everything_sse():
    """The deprecated HTTP+SSE transport: GET /sse for the event stream, POST /message?sessionId=... ."""
    yield from serve_everything("sse", "/sse")


REMOTE_MODES = {"streamable_http": ("streamableHttp", "/mcp"), "sse": ("sse", "/sse")}


@pytest.fixture(params=list(REMOTE_MODES))
def everything_remote(request):
    """server-everything over each HTTP transport: (transport, url)."""
    for url, _ in serve_everything(*REMOTE_MODES[request.param]):
        yield request.param, url


@needs_everything
def test_given_server_everything_over_http_transports_when_echo_is_called_then_echoed(
        client, admin, operator, worker, everything_remote):
    transport, url = everything_remote
    name = f"everything-{transport.replace('_', '-')}"
    tool = create_tool(client, admin, name=name, transport=transport, url=url)
    task = start_tool(client, admin, tool["id"])
    assert task["result"]["pid"] is None  # not our process: nothing to supervise but the connection
    status = client.get(f"{TOOLS}/{name}/status", headers=operator).json
    assert status["status"] == "RUNNING" and status["owner_worker"] in worker.worker_ids()

    result = call(client, operator, name, "echo", {"message": f"over {transport}"})

    assert result["isError"] is False and result["content"][0]["text"] == f"Echo: over {transport}"
    assert "echo" in mcp_tool_names(client, operator, name)


@needs_everything
def test_given_a_streamable_http_tool_when_its_server_dies_then_the_next_call_fails_and_it_is_seen_failing(
        client, admin, operator, viewer, worker, everything_http):
    url, process = everything_http
    tool = create_tool(client, admin, name="everything-http", transport="streamable_http", url=url,
                       max_restart_attempts=1)
    start_tool(client, admin, tool["id"])

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    failed = client.post(f"{TOOLS}/everything-http/call", headers=operator,
                         json={"tool": "echo", "arguments": {"message": "anyone?"}, "timeout": 5})

    assert failed.status_code == 503 and failed.json["errors"]["error_type"] == "connection_lost", failed.json
    assert "connection to the MCP server was lost" in failed.json["message"]
    status = wait_for(lambda: (body := client.get(f"{TOOLS}/{tool['id']}/status", headers=viewer).json)
                      ["status"] == "ERROR" and body, timeout=10)  # one reconnection attempt, then ERROR
    assert status["restart_count"] == 1 and "ConnectError" in status["last_error"]
    logs = client.get(f"{TOOLS}/{tool['id']}/logs?source=lifecycle", headers=viewer).json["items"]
    assert any("restarting" in e["message"] for e in logs)


@needs_everything
def test_given_a_streamable_http_tool_when_its_server_dies_then_it_is_seen_failing_without_a_call(
        client, admin, viewer, worker, everything_http):
    url, process = everything_http
    tool = create_tool(client, admin, name="everything-http", transport="streamable_http", url=url)
    start_tool(client, admin, tool["id"])

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    wait_for(lambda: client.get(f"{TOOLS}/{tool['id']}/status", headers=viewer).json["status"] != "RUNNING",
             timeout=4)  # four heartbeats


@needs_everything
def test_given_an_sse_tool_when_its_server_dies_then_it_is_seen_failing_without_a_call(
        client, admin, viewer, worker, everything_sse):
    url, process = everything_sse
    tool = create_tool(client, admin, name="everything-sse", transport="sse", url=url, max_restart_attempts=1)
    start_tool(client, admin, tool["id"])

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    status = wait_for(lambda: (body := client.get(f"{TOOLS}/{tool['id']}/status", headers=viewer).json)
                      ["status"] == "ERROR" and body, timeout=10)  # the event stream ends; one reconnection, then ERROR
    assert status["restart_count"] == 1 and "ConnectError" in status["last_error"]
