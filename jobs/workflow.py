"""A workflow job's definition: ordered steps and parallel groups, each step one tool call, whose
arguments may reference earlier results (`${step.path}`). The grammar is part of the job protocol: the
API and the scheduler check a definition (and the caller's rights on the tools it names) with the same
rule the worker runs it by. Running it is workers/workflows.py.
"""
from __future__ import annotations

import json
import re
from typing import Any

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
        is_group = isinstance(entry, dict) and "parallel" in entry  # a step may be any JSON value: check first
        group = entry["parallel"] if is_group else [entry]
        if not isinstance(group, list) or not group:
            raise WorkflowError(f"steps[{index}].parallel must be a non-empty list of steps")
        stage = []
        for position, step in enumerate(group):
            where = f"steps[{index}]" + (f".parallel[{position}]" if is_group else "")
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
    if "name" in step and ("tool" in step or "call" in step):
        # One rule names a step's tool: two spellings that could disagree would let a scope check read
        # one and the runner the other.
        raise WorkflowError(f"{where}: give either `name` or `tool` and `call`, not both")
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
