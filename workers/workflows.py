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

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_-]+)((?:\.[A-Za-z0-9_-]+)*)\}")
AGGREGATE_SEPARATOR = "__"


class WorkflowError(ValueError):
    """The definition is not valid (raised before anything runs)."""


def validate_definition(definition: Any, tool_names: set[str] | None = None) -> list[list[dict]]:
    """The steps as stages (a stage is a list of steps run together); raises WorkflowError."""
    if not isinstance(definition, dict) or not isinstance(definition.get("steps"), list) or not definition["steps"]:
        raise WorkflowError("a workflow needs a non-empty list `steps`")
    stages, seen = [], set()
    for index, entry in enumerate(definition["steps"]):
        group = entry.get("parallel") if isinstance(entry, dict) and "parallel" in entry else [entry]
        if not isinstance(group, list) or not group:
            raise WorkflowError(f"steps[{index}].parallel must be a non-empty list of steps")
        stage = []
        for position, step in enumerate(group):
            where = f"steps[{index}]" + (f".parallel[{position}]" if "parallel" in entry else "")
            stage.append(_normalise(step, where, seen, tool_names))
        seen.update(step["id"] for step in stage)
        stages.append(stage)
    return stages


def _normalise(step: Any, where: str, seen: set[str], tool_names: set[str] | None) -> dict:
    if not isinstance(step, dict):
        raise WorkflowError(f"{where} must be an object")
    unknown = set(step) - {"id", "tool", "call", "name", "arguments", "timeout", "continue_on_error"}
    if unknown:
        raise WorkflowError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    if "name" in step:
        tool, sep, call = str(step["name"]).partition(AGGREGATE_SEPARATOR)
        if not sep or not call:
            raise WorkflowError(f"{where}.name must be <tool>{AGGREGATE_SEPARATOR}<mcp tool>")
    else:
        tool, call = step.get("tool"), step.get("call")
        if not isinstance(tool, str) or not isinstance(call, str) or not tool or not call:
            raise WorkflowError(f"{where} needs `tool` and `call` (or `name`: <tool>__<mcp tool>)")
    if tool_names is not None and tool not in tool_names:
        raise WorkflowError(f"{where}: no tool {tool}")
    step_id = str(step.get("id") or f"{where}")
    if step_id in seen:
        raise WorkflowError(f"{where}: duplicate step id {step_id}")
    arguments = step.get("arguments", {})
    if not isinstance(arguments, dict):
        raise WorkflowError(f"{where}.arguments must be an object")
    for ref in REFERENCE.finditer(json.dumps(arguments)):
        if ref.group(1) not in seen:
            raise WorkflowError(f"{where} refers to ${{{ref.group(1)}...}}, which is not an earlier step")
    timeout = step.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise WorkflowError(f"{where}.timeout must be a positive number of seconds")
    return {"id": step_id, "tool": tool, "call": call, "arguments": arguments, "timeout": timeout,
            "continue_on_error": bool(step.get("continue_on_error", False))}


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
                 emit: Callable[[dict], None], cancelled: Callable[[], bool]) -> dict:
    """Run the stages; each step is a call job (parent_id = the run). Returns the run's result."""
    results: dict[str, dict] = {}
    steps_report: list[dict] = []
    for stage in stages:
        if cancelled():
            raise JobError("the workflow was stopped", "cancelled")
        submitted = []
        for step in stage:
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
        if failed is not None:
            raise StepFailed(failed, steps_report)
    return {"steps": steps_report}


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
