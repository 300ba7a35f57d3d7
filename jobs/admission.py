"""May a call go to this tool now? One rule, used by the API (before enqueueing) and by the worker
(when the call finds no session): a running tool is called; a tool that is not running is started by
the call when it auto-starts, or when it is meant to run and has not given up (ERROR: its restarts ran
out; only an explicit start, or auto_start, tries again)."""
from __future__ import annotations

from jobs.events import ErrorType, JobError

NOT_RUNNING = ("STOPPED", "ERROR")


def call_may_start(tool) -> bool:
    return bool(tool.auto_start) or (tool.desired_state == "running" and tool.status != "ERROR")


def check_call(tool, running: bool) -> None:
    """Raise JobError(tool_not_running) unless a call may go to `tool` (running: its session exists)."""
    if running or call_may_start(tool):
        return
    reason = f": {tool.last_error}" if tool.status == "ERROR" and tool.last_error else ""
    raise JobError(f"tool {tool.name} is {tool.status}{reason}; start it first (or enable auto_start)",
                   ErrorType.TOOL_NOT_RUNNING)


def is_running(tool) -> bool:
    """What the tool's row says (the API's view; the worker knows from its sessions)."""
    return tool.status not in NOT_RUNNING
