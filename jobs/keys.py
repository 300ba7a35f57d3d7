"""Every Redis key name of the job protocol, in one place. All start with `redis.namespace`."""
from __future__ import annotations

from config import Section


def key(settings: Section, *parts: object) -> str:
    """A namespaced key: key(settings, "job", job_id) -> "mcps:job:<id>"."""
    return ":".join([settings.redis.namespace, *map(str, parts)])


def stream_key(settings: Section, job_id: str) -> str:
    """A job's result stream (progress, log, input requests, then its final event)."""
    return key(settings, "job", job_id)


def cancel_key(settings: Section, job_id: str) -> str:
    """Set when a job is cancelled, for a worker that has not started it yet."""
    return key(settings, "job", job_id, "cancel")


def input_pending_key(settings: Section, job_id: str) -> str:
    """A job's questions to its client still waiting for an answer: a hash request id -> question (JSON).
    Taking a request id out of it is what claims the right to answer (jobs.input_requests)."""
    return key(settings, "job", job_id, "input")


def input_answer_key(settings: Section, job_id: str, request_id: str) -> str:
    """The list one answer to one question lands on; the worker that asked BLPOPs it."""
    return key(settings, "job", job_id, "input", request_id)


def lease_key(settings: Section, tool_id: int) -> str:
    """The tool owner lease: the id of the worker holding the tool's MCP session."""
    return key(settings, "tool", tool_id, "owner")


def live_key(settings: Section, tool_id: int) -> str:
    """A running tool's live stats (pid, memory, CPU), refreshed by its owner's heartbeat."""
    return key(settings, "tool", tool_id, "live")


def health_key(settings: Section, tool_id: int) -> str:
    """A running tool's health probe record (JSON {healthy, failures, last_probe_at, last_error})."""
    return key(settings, "tool", tool_id, "health")


def worker_key(settings: Section, worker_id: str) -> str:
    """A live worker's heartbeat (JSON), expiring with the lease TTL."""
    return key(settings, "worker", worker_id)


def lost_jobs_key(settings: Section) -> str:
    """Calls whose callers read worker_lost, for a live worker to record as failed tasks (jobs/lost.py)."""
    return key(settings, "jobs", "lost")


def workers_key(settings: Section) -> str:
    """The set of every worker id seen (pruned by readers)."""
    return key(settings, "workers")


def tool_changes_channel(settings: Section) -> str:
    """Pub/sub: a tool started, stopped, or its tools/resources/prompts lists changed (jobs/notices.py)."""
    return key(settings, "notices", "tools")


def resource_updates_channel(settings: Section) -> str:
    """Pub/sub: a server said a subscribed resource changed (`notifications/resources/updated`)."""
    return key(settings, "notices", "resources")


def resource_subscribers_key(settings: Section, tool_id: int) -> str:
    """A tool's resource subscriptions: hash URI -> JSON list of subscribers (kept by its owning worker, so
    that a restarted or taken-over tool subscribes again)."""
    return key(settings, "tool", tool_id, "resource_subscribers")


def config_generation_key(settings: Section) -> str:
    """The generation of the settings changed at run time (models.runtime_settings): every process
    reloads them when it moves."""
    return key(settings, "config", "generation")


def call_budget_key(settings: Section, who: str, window: int) -> str:
    return key(settings, "ratelimit", "calls", who, window)


def broker_namespace(settings: Section) -> str:
    """Dramatiq's own keys (queues, acks) live under this prefix."""
    return f"{settings.redis.namespace}:dq"
