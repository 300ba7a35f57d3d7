"""The client side of the job path, used by the API and the proxy: build a job, route it, wait for it.

A job travels as one Dramatiq message to the actor `run_job`. Calls and lifecycle actions on a running
tool go to the queue of the worker that owns the tool (its lease); starting a tool, or calling a stopped
tool that may auto-start, goes to the shared `lifecycle` queue where any worker may take it.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

import dramatiq
import redis

from config import Section
from workers import registry, stream
from workers.leases import ToolOwnerLease
from workers.redis_client import key

LIFECYCLE_QUEUE = "lifecycle"
ACTOR = "run_job"
CALL_KINDS = ("call", "list_tools", "list_resources", "list_resource_templates", "read_resource",
              "list_prompts", "get_prompt")
LIFECYCLE_KINDS = ("start", "stop", "restart")
CANCEL_TTL_S = 3600


class JobError(Exception):
    """A job that could not produce a result; `error_type` is stable for clients."""

    def __init__(self, message: str, error_type: str):
        super().__init__(message)
        self.error_type = error_type


@dataclass
class Job:
    kind: str
    tool_id: int | None = None
    args: dict = field(default_factory=dict)
    user_id: int | None = None
    session_id: int | None = None
    deadline: float | None = None  # epoch seconds; a job found past it is not started
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    submitted_at: float = field(default_factory=time.time)
    record: bool = True  # write a task row (and history for calls) after the reply

    @classmethod
    def from_dict(cls, data: dict) -> "Job":
        return cls(**data)


class JobClient:
    def __init__(self, broker: dramatiq.Broker, client: redis.Redis, settings: Section):
        self.broker = broker
        self.redis = client
        self.settings = settings
        self.leases = ToolOwnerLease(client, settings)

    def owner_of(self, tool_id: int) -> str | None:
        return self.leases.owner(tool_id)

    def submit(self, job: Job, queue: str | None = None) -> str:
        """Enqueue `job` on `queue` (default: the tool owner's queue, else lifecycle); returns the queue."""
        if queue is None:
            owner = self.owner_of(job.tool_id) if job.tool_id is not None else None
            queue = registry.worker_queue(owner) if owner else LIFECYCLE_QUEUE
        message = dramatiq.Message(queue_name=queue, actor_name=ACTOR, args=(asdict(job),), kwargs={},
                                   options={})
        self.broker.enqueue(message)
        return queue

    def wait(self, job_id: str, timeout_s: float, worker_id: str | None = None) -> dict:
        """Block until the job's result event; raise JobError on timeout or when its worker died."""
        deadline = time.monotonic() + timeout_s
        after = "0"
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise JobError(f"no result within {timeout_s:g} s; the job goes on, see its task", "wait_timeout")
            events = stream.read(self.redis, self.settings, job_id, after, min(remaining_ms, 1000))
            for entry_id, event in events:
                after = entry_id
                if event.get("type") == stream.FINAL_EVENT:
                    return event
            if not events and worker_id and not registry.is_alive(self.redis, self.settings, worker_id):
                event = {"type": stream.FINAL_EVENT, "status": "failed", "error_type": "worker_lost",
                         "error": "the worker running this job died; the call was not retried"}
                stream.publish_now(self.redis, self.settings, job_id, event)
                return event

    def cancel(self, job_id: str) -> None:
        """Cancel a queued or running job: a flag for workers that have not started it, and a control
        message to every live worker for the one that is running it."""
        self.redis.set(key(self.settings, "job", job_id, "cancel"), 1, ex=CANCEL_TTL_S)
        for worker in registry.live_workers(self.redis, self.settings):
            self.submit(Job(kind="cancel", args={"job_id": job_id}, record=False),
                        registry.worker_queue(worker["id"]))
