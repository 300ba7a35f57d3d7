"""A job: one lifecycle action, MCP request or workflow run, as it travels to a worker.

A job is one Dramatiq message to the actor `run_job`. Calls and lifecycle actions on a running tool go
to the queue of the worker that owns the tool (its lease); starting a tool, or calling a stopped tool
that may auto-start, goes to the shared `lifecycle` queue where any worker may take it.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

import dramatiq

LIFECYCLE_QUEUE = "lifecycle"
ACTOR = "run_job"
CALL_KINDS = ("call", "list_tools", "list_resources", "list_resource_templates", "read_resource",
              "list_prompts", "get_prompt", "complete", "subscribe_resource", "unsubscribe_resource")
# A call job may carry args["log_level"]: the least severe server log level its caller wants to hear.
# (Subscription kinds name args["uri"] and args["subscriber"]: the worker subscribes on the server for the
# first subscriber of a URI and unsubscribes after the last.)
LIFECYCLE_KINDS = ("start", "stop", "restart")
WORKFLOW_KIND = "workflow_run"
# Maintenance (scheduled or run by an admin): taken by any worker from the lifecycle queue, recorded as
# tasks like every job. Their handlers are workers.maintenance.HANDLERS.
MAINTENANCE_KINDS = ("backup", "restore", "retention", "metric_sample", "health_probe", "probe_tool",
                     "alert_evaluate", "notify_alert", "deliver_notification", "rolling_restart", "worker_restart")
CANCEL_KIND = "cancel"  # a control message to a worker: cancel the job args["job_id"] if it runs there


@dataclass
class Job:
    kind: str
    tool_id: int | None = None
    args: dict = field(default_factory=dict)
    user_id: int | None = None
    session_id: int | None = None
    parent_id: str | None = None  # the workflow run a step belongs to
    deadline: float | None = None  # epoch seconds; a job found past it is not started
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    submitted_at: float = field(default_factory=time.time)
    record: bool = True  # write a task row (and history for calls) after the reply

    @classmethod
    def from_dict(cls, data: dict) -> "Job":
        return cls(**data)

    def message(self, queue: str | None = None) -> dramatiq.Message:
        """The Dramatiq message that carries this job (to `queue`, by default the lifecycle queue)."""
        return dramatiq.Message(queue_name=queue or LIFECYCLE_QUEUE, actor_name=ACTOR, args=(asdict(self),),
                                kwargs={}, options={})


@dataclass(frozen=True)
class CallBudget:
    """A caller's call budget: `amount` jobs per `window_ms`, counted per `who` (user or API key)."""

    who: str
    amount: int
    window_ms: int
    description: str
