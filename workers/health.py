"""Health probes: every running tool is pinged (MCP `ping`) through the worker that owns it.

The `health_probe` round runs on any worker: it sends one `probe_tool` job per running tool, routed by
the tool's owner lease to its owner, which pings the server on its MCP loop with a timeout. Failures
are counted in Redis; after `monitoring.probe_failures` in a row the tool is marked unhealthy (its
status shows it, with a log line) and, when the tool has `restart_on_failure`, restarted by a job.
A process stopped with SIGSTOP is alive to its supervisor but answers nothing: only this finds it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

from mcp import Client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from jobs.events import ErrorType, JobError
from jobs.job import Job
from jobs.keys import health_key
from models import LogEntry, Tool, utcnow
from workers.runtime import WorkerRuntime

log = logging.getLogger("mcps.health")
HEALTH_TTL_S = 24 * 3600


async def ping(client: Client, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        if client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
            await client.session.send_ping()
        else:  # 2026-era servers: the cheapest request there is
            await client.list_tools()


def probe_tool(job: Job, runtime: WorkerRuntime) -> dict:
    """On the owner: ping the tool's server."""
    session = runtime.sessions.get(job.tool_id)
    client = session.client if session is not None else None
    if client is None:
        raise JobError(f"tool {job.tool_id} is not running on worker {runtime.id}", ErrorType.TOOL_NOT_RUNNING)
    timeout_s = float(job.args.get("timeout_s", 5))
    started = time.monotonic()
    try:
        runtime.on_loop(ping(client, timeout_s), timeout_s + 1)
    except TimeoutError:
        raise JobError(f"no answer to ping within {timeout_s:g} s", ErrorType.TIMEOUT) from None
    return {"latency_ms": round((time.monotonic() - started) * 1000, 3)}


def probe_round(job: Job, runtime: WorkerRuntime) -> dict:
    """Anywhere: probe every running tool through its owner and act on the outcome."""
    settings = runtime.settings.monitoring
    tools = list(Tool.select().where((Tool.desired_state == "running") & (Tool.status == "RUNNING")))
    deadline = time.time() + settings.probe_timeout_s + 5
    sent = []
    for tool in tools:
        probe = Job(kind="probe_tool", tool_id=tool.id, args={"timeout_s": settings.probe_timeout_s},
                    deadline=deadline, record=False)
        runtime.jobs.submit(probe)
        sent.append((tool, probe))
    outcome = {"healthy": [], "failing": [], "restarted": [], "skipped": []}
    for tool, probe in sent:
        try:
            event = runtime.jobs.wait(probe.id, max(deadline - time.time(), 0.1) + 1)
        except JobError as error:
            event = {"status": "failed", "error_type": ErrorType.TIMEOUT.value, "error": str(error)}
        if event.get("error_type") in (ErrorType.TOOL_NOT_RUNNING.value, ErrorType.DEADLINE_EXCEEDED.value):
            outcome["skipped"].append(tool.name)  # moving between workers, or its owner is too busy to say
            continue
        record(runtime, tool, event, outcome)
    return {name: names for name, names in outcome.items()}


def record(runtime: WorkerRuntime, tool: Tool, event: dict, outcome: dict) -> None:
    settings, client = runtime.settings, runtime.redis
    healthy = event.get("status") == "succeeded"
    previous = json.loads(client.get(health_key(settings, tool.id)) or "{}")
    failures = 0 if healthy else previous.get("failures", 0) + 1
    threshold = settings.monitoring.probe_failures
    state = {"healthy": healthy or failures < threshold, "failures": failures, "last_probe_at": time.time(),
             "last_error": None if healthy else event.get("error")}
    if healthy:
        outcome["healthy"].append(tool.name)
    else:
        outcome["failing"].append(tool.name)
        log.warning("event=tool.probe_failed tool=%s failures=%d error=%r", tool.name, failures, event.get("error"))
    if failures == threshold:
        message = f"unhealthy: {failures} health probes failed in a row (last: {event.get('error')})"
        LogEntry.create(category="mcp", level="WARNING", tool_id=tool.id, source="health", message=message)
        Tool.update(last_error=message, updated_at=utcnow()).where(Tool.id == tool.id).execute()
        if tool.restart_on_failure:
            runtime.jobs.submit(Job(kind="restart", tool_id=tool.id, args={"reason": "health probe"}))
            state.update(failures=0, restarted_at=time.time())
            outcome["restarted"].append(tool.name)
            log.warning("event=tool.restart_unhealthy tool=%s", tool.name)
    client.set(health_key(settings, tool.id), json.dumps(state), ex=HEALTH_TTL_S)
