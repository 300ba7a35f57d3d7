"""The client side of the job path, used by the API and the proxy: build a job, route it, wait for it.

A job travels as one Dramatiq message to the actor `run_job`. Calls and lifecycle actions on a running
tool go to the queue of the worker that owns the tool (its lease); starting a tool, or calling a stopped
tool that may auto-start, goes to the shared `lifecycle` queue where any worker may take it.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field

import dramatiq
import redis

from config import Section
from workers import registry, stream
from workers.broker import RateLimit
from workers.leases import ToolOwnerLease, lease_key
from workers.redis_client import key

LIFECYCLE_QUEUE = "lifecycle"
ACTOR = "run_job"
CALL_KINDS = ("call", "list_tools", "list_resources", "list_resource_templates", "read_resource",
              "list_prompts", "get_prompt")
LIFECYCLE_KINDS = ("start", "stop", "restart")
WORKFLOW_KIND = "workflow_run"
CANCEL_TTL_S = 3600


@dataclass(frozen=True)
class CallBudget:
    """A caller's call budget: `amount` jobs per `window_ms`, counted per `who` (user or API key)."""

    who: str
    amount: int
    window_ms: int
    description: str


class JobError(Exception):
    """A job that could not produce a result; `error_type` is stable for clients."""

    def __init__(self, message: str, error_type: str):
        super().__init__(message)
        self.error_type = error_type


class RateLimited(Exception):
    def __init__(self, event: dict | None):
        super().__init__((event or {}).get("error", "rate limited"))
        self.event = event or {}


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


class JobClient:
    def __init__(self, broker: dramatiq.Broker, client: redis.Redis, settings: Section):
        self.broker = broker
        self.redis = client
        self.settings = settings
        self.leases = ToolOwnerLease(client, settings)

    def owner_of(self, tool_id: int) -> str | None:
        return self.leases.owner(tool_id)

    def submit(self, job: Job, queue: str | None = None, limit: CallBudget | None = None) -> str | None:
        """Enqueue `job` on `queue`, by default on the queue of the worker owning its tool (decided inside
        Redis, same round trip) or else on the lifecycle queue. Returns the owner worker id, if any;
        raises RateLimited when `limit` is spent."""
        message = self._message(job, queue)
        owner_key = lease_key(self.settings, job.tool_id) if queue is None and job.tool_id is not None else None
        enqueued, owner = self.broker.enqueue_routed(message, owner_key, self._rate_limit(job, limit))
        if enqueued is None:
            raise RateLimited(stream.final_event(self.redis, self.settings, job.id))
        return owner

    def _message(self, job: Job, queue: str | None = None) -> dramatiq.Message:
        return dramatiq.Message(queue_name=queue or LIFECYCLE_QUEUE, actor_name=ACTOR, args=(asdict(job),),
                                kwargs={}, options={})

    def _rate_limit(self, job: Job, budget: CallBudget | None) -> RateLimit | None:
        if budget is None:
            return None
        window = int(time.time() * 1000) // budget.window_ms
        rejection = {"type": stream.FINAL_EVENT, "status": "failed", "error_type": "rate_limited",
                     "error": f"call rate limit exceeded ({budget.description})", "retry_after_ms": 0}
        return RateLimit(key(self.settings, "ratelimit", "calls", budget.who, window), budget.amount,
                         budget.window_ms, stream.stream_key(self.settings, job.id),
                         json.dumps(rejection, separators=(",", ":")), self.settings.mcp.jobs.stream_maxlen,
                         self.settings.mcp.jobs.result_ttl_s)

    def run(self, job: Job, timeout_s: float, limit: CallBudget | None = None) -> dict:
        """Submit `job` to its tool's owner (or the lifecycle queue) and wait for its result event.

        The enqueue script and the first blocking XREAD go out in one pipeline: Redis runs the
        enqueue, then holds the XREAD until the worker's reply lands, so a call costs the caller a
        single round trip. (Dramatiq's enqueue middleware hooks are skipped on this path: ours has none.)
        """
        message = self._message(job)
        keys, args = self.broker.enqueue_args(
            message, lease_key(self.settings, job.tool_id) if job.tool_id is not None else None,
            self._rate_limit(job, limit))
        first_block_ms = max(1, min(int(timeout_s * 1000), 1000))
        pipe = self.redis.pipeline(transaction=False)
        pipe.evalsha(self.broker.enqueue_script.sha, len(keys), *keys, *args)
        pipe.xread({stream.stream_key(self.settings, job.id): "0"}, block=first_block_ms, count=100)
        routed, reply = pipe.execute(raise_on_error=False)
        if isinstance(routed, redis.exceptions.NoScriptError):  # Redis restarted: load and send again
            owner = self.submit(job, limit=limit)
            return self.wait(job.id, timeout_s, owner)
        if isinstance(routed, Exception):
            raise routed
        owner = routed[1].decode() if routed[1] else None  # a refused job: its stream holds the rejection
        for entry_id, fields in (reply[0][1] if reply and not isinstance(reply, Exception) else []):
            event = json.loads(fields[b"e"])
            if event.get("type") == stream.FINAL_EVENT:
                return event
        return self.wait(job.id, max(timeout_s - first_block_ms / 1000, 0.001), owner)

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
