"""Workflows: ordered steps (each one tool call, run as its own job on the tool owner's queue) and
parallel groups, whose arguments may reference earlier results.

    {"steps": [
        {"id": "now", "tool": "time", "call": "get_current_time", "arguments": {"timezone": "UTC"}},
        {"parallel": [
            {"id": "a", "name": "echo__echo", "arguments": {"text": "${now.structuredContent.datetime}"}},
            {"id": "b", "tool": "echo", "call": "echo", "arguments": {"text": "at ${now.content.0.text}"}}]}]}

A string that is exactly one `${step.path}` becomes the referenced value (any JSON type); references
inside a longer string are replaced by their text. A failed step (platform error or isError result,
unless the step says "continue_on_error": true) ends the run as failed; later steps do not run.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any, Callable

from jobs import Job, JobClient, JobError
from jobs.workflow import REFERENCE


def resolve(value: Any, results: dict[str, dict]) -> Any:
    """Replace `${step.path}` references in `value` with what earlier steps returned."""
    if isinstance(value, dict):
        return {key: resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, results) for item in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value)
    if whole:
        return _lookup(whole, results)
    return REFERENCE.sub(lambda ref: _as_text(_lookup(ref, results)), value)


def _lookup(ref: re.Match, results: dict[str, dict]) -> Any:
    value: Any = results[ref.group(1)]
    for part in ref.group(2).split(".")[1:]:
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise JobError(f"reference ${{{ref.group(1)}{ref.group(2)}}} does not exist in that step's result",
                           "bad_reference") from None
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def run_workflow(run: Job, stages: list[list[dict]], jobs: JobClient, tool_ids: dict[str, int],
                 emit: Callable[[dict], None], cancelled: Callable[[], bool], max_parallel: int = 8) -> dict:
    """Run the stages; each step is a call job (parent_id = the run). Returns the run's result.
    At most `max_parallel` steps of a parallel group run at once (mcp.agent.max_workers)."""
    results: dict[str, dict] = {}
    steps_report: list[dict] = []
    for stage in stages:
        failed = None
        for start in range(0, len(stage), max_parallel):
            batch_failed = _run_steps(stage[start:start + max_parallel], run, jobs, tool_ids, emit, cancelled,
                                      results, steps_report)
            failed = failed or batch_failed
        if failed is not None:
            raise StepFailed(failed, steps_report)
    return {"steps": steps_report}


def _run_steps(steps: list[dict], run: Job, jobs: JobClient, tool_ids: dict[str, int], emit: Callable[[dict], None],
               cancelled: Callable[[], bool], results: dict[str, dict], steps_report: list[dict]) -> dict | None:
    """Send these steps at once and wait for them all; returns the report of the first that failed."""
    if cancelled():
        raise JobError("the workflow was stopped", "cancelled")
    submitted = []
    for step in steps:
        arguments = resolve(step["arguments"], results)
        job = Job(kind="call", tool_id=tool_ids[step["tool"]], user_id=run.user_id, session_id=run.session_id,
                  parent_id=run.id, deadline=run.deadline,
                  args={"tool": step["call"], "arguments": arguments,
                        **({"timeout": step["timeout"]} if step["timeout"] else {})})
        jobs.submit(job)
        emit({"type": "progress", "step": step["id"], "state": "started", "task_id": job.id})
        submitted.append((step, job))
    failed = None
    for step, job in submitted:
        event = _wait_step(job, run, jobs, cancelled, [j for _, j in submitted])
        ok = event.get("status") == "succeeded" and not (event.get("result") or {}).get("isError")
        results[step["id"]] = event.get("result") or {}
        report = {"id": step["id"], "tool": step["tool"], "call": step["call"], "task_id": job.id,
                  "status": event.get("status"), "is_error": bool((event.get("result") or {}).get("isError")),
                  "error": event.get("error"), "result": event.get("result")}
        steps_report.append(report)
        emit({"type": "progress", "step": step["id"], "state": "finished", "task_id": job.id,
              "status": report["status"], "is_error": report["is_error"]})
        if not ok and not step["continue_on_error"] and failed is None:
            failed = report
    return failed


def _wait_step(job: Job, run: Job, jobs: JobClient, cancelled: Callable[[], bool], stage: list[Job]) -> dict:
    """Wait for a step's result, a second at a time so that a stopped run cancels its steps."""
    deadline = run.deadline or time.time() + 24 * 3600
    stopping = False
    while True:
        try:
            return jobs.wait(job.id, max(min(1.0, deadline - time.time()), 0.001))
        except JobError as error:
            if error.error_type != "wait_timeout" or time.time() >= deadline:
                return {"status": "failed", "error_type": error.error_type, "error": str(error)}
        if not stopping and cancelled():
            stopping = True
            for sibling in stage:
                jobs.cancel(sibling.id)


class StepFailed(JobError):
    def __init__(self, step: dict, steps: list[dict]):
        reason = step.get("error") or "the tool answered with isError"
        super().__init__(f"step {step['id']} ({step['tool']}.{step['call']}) failed: {reason}", "step_failed")
        self.steps = steps
