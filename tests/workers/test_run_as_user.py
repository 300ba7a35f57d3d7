"""Tools run unprivileged: with `mcp.tools.run_as_user` a root worker starts each stdio tool as that user
(workers/run_as.py, the change made by workers/child_guard.py), which then cannot read root's files,
writes only to its own working directory, and keeps its resource limits. No change when not root."""
from __future__ import annotations

import os
import pwd
import secrets
import sys
from pathlib import Path

import psutil
import pytest

from models import LogEntry, Tool
from tests.harness import SERVERS, make_stdio_tool, wait_for
from workers.run_as import UnknownRunAsUser, run_as

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs a root worker")
NOBODY = pwd.getpwnam("nobody")
# The suite's interpreter is under /root (pyenv), which another user cannot enter: the tools here run the
# system's Python 3.11 on the venv's packages, as a deployment with run_as_user would (SECURITY.md).
SYSTEM_PYTHON = "/usr/bin/python3.11"
SITE_PACKAGES = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
TOOL_ENV = {"PYTHONPATH": str(SITE_PACKAGES)}
needs_system_python = pytest.mark.skipif(not Path(SYSTEM_PYTHON).exists(), reason="no /usr/bin/python3.11")


@pytest.fixture
def root_only_file():
    """A file only root may read, in a directory everyone may search (/tmp), holding a secret."""
    path = Path("/tmp") / f"mcps-root-only-{secrets.token_hex(4)}"
    path.write_text("root-only-content-" + secrets.token_hex(4))
    path.chmod(0o600)
    yield path
    path.unlink(missing_ok=True)


def prying_tool(name: str, root_only_file: Path) -> Tool:
    """echo_server.py, started by a shell that first tries to read the file and writes into its cwd
    (on stderr, the tool's log: stdout is the MCP channel)."""
    script = (f"cat {root_only_file} >&2; echo uid=$(id -u) >&2; touch written-here; "
              f"exec {SYSTEM_PYTHON} {SERVERS / 'echo_server.py'}")
    return Tool.create(name=name, transport="stdio", command="/bin/sh", args=["-c", script], env=TOOL_ENV)


def stderr_of(tool_id: int) -> str:
    return "\n".join(entry.message for entry in LogEntry.select().where(
        (LogEntry.tool_id == tool_id) & (LogEntry.source == "stderr")))


@needs_system_python
@pytest.mark.parametrize("setting, uid", [("nobody", NOBODY.pw_uid), ("", 0)], ids=["run_as_user=nobody", "unset"])
def test_given_run_as_user_when_a_tool_starts_then_it_runs_as_that_user_and_cannot_read_roots_file(
        settings, database, start_worker_for, run_job, root_only_file, setting, uid):
    # Given a root worker with (or without) run_as_user, and a tool that tries to read a root-only file
    start_worker_for(settings, {"MCPS_MCP__TOOLS__RUN_AS_USER": setting})
    tool = prying_tool("pry", root_only_file)

    # When it is started
    assert run_job("start", tool.id)["status"] == "succeeded"

    # Then it runs under that uid (all of its ids), with the groups of that user only
    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "RUNNING" and r.pid and r)
    process = psutil.Process(row.pid)
    assert set(process.uids()) == {uid}
    assert set(process.gids()) == {NOBODY.pw_gid if setting else 0}
    # it read the file only as root, and wrote into its own working directory as itself
    log = wait_for(lambda: "uid=" in (text := stderr_of(tool.id)) and text)
    assert f"uid={uid}" in log
    if setting:
        assert "Permission denied" in log and root_only_file.read_text() not in log
        assert process.environ()["HOME"] == NOBODY.pw_dir
    else:
        assert root_only_file.read_text() in log
    written = Path(process.cwd()) / "written-here"
    assert written.exists() and written.stat().st_uid == uid
    # and the call path works as ever
    assert run_job("call", tool.id, tool="echo", arguments={"text": "hi"})["status"] == "succeeded"


@needs_system_python
def test_given_run_as_user_then_the_memory_limit_still_kills_the_tool(settings, database, start_worker_for, run_job):
    start_worker_for(settings, {"MCPS_MCP__TOOLS__RUN_AS_USER": "nobody"})
    tool = Tool.create(name="small", transport="stdio", command=SYSTEM_PYTHON, args=[str(SERVERS / "legacy_server.py")],
                       env=TOOL_ENV, memory_limit_mb=1, max_restart_attempts=0)

    run_job("start", tool.id)

    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "ERROR" and r)
    assert "over its limit of 1 MB" in row.last_error


def test_given_a_worker_that_is_not_root_or_no_setting_then_no_user_change():
    assert run_as("nobody", euid=1000) is None
    assert run_as("", euid=0) is None and run_as(None, euid=0) is None
    assert run_as("root", euid=0) is None and run_as("0", euid=0) is None
    nobody = run_as("nobody", euid=0)
    assert (nobody.uid, nobody.gid) == (NOBODY.pw_uid, NOBODY.pw_gid) and nobody.guard_args() == [
        "--as", f"{NOBODY.pw_uid}:{NOBODY.pw_gid}"]
    assert run_as(str(NOBODY.pw_uid), euid=0) == nobody
    assert nobody.environment({"HOME": "/srv/tool"})["HOME"] == "/srv/tool"
    with pytest.raises(UnknownRunAsUser):
        run_as("no-such-user-here", euid=0)


def test_given_an_unknown_run_as_user_when_a_tool_starts_then_it_fails_with_the_reason(
        settings, database, start_worker_for, run_job):
    start_worker_for(settings, {"MCPS_MCP__TOOLS__RUN_AS_USER": "no-such-user-here"})
    tool = make_stdio_tool("t", "legacy_server.py", max_restart_attempts=0)

    outcome = run_job("start", tool.id)

    assert outcome["status"] == "failed"
    assert "no-such-user-here" in str(outcome) or "no-such-user-here" in (Tool.get_by_id(tool.id).last_error or "")
