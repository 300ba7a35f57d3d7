"""The job protocol: the one contract between the clients of the queue (API, MCP proxy, scheduler) and
the workers. Clients import this package and never `workers/`; workers import it too.

- job.py        Job, its kinds and queues, CallBudget
- events.py     the events of a job's stream, ErrorType (HTTP status and JSON-RPC code), JobError
- keys.py       every Redis key name
- broker.py     the enqueue script and the routing broker (one enqueue path, sync and async)
- stream.py     the result stream: publish, read, follow
- leases.py     tool owner leases;  registry.py  live workers
- client.py     JobClient (sync) and AsyncJobClient (asyncio)
- lost.py       calls lost with their worker, noted by their callers so that a live worker records them
- admission.py  may a call go to this tool now
"""
from jobs.client import AsyncJobClient, JobClient
from jobs.events import ErrorType, JobError, RateLimited
from jobs.job import CALL_KINDS, LIFECYCLE_KINDS, LIFECYCLE_QUEUE, WORKFLOW_KIND, CallBudget, Job

__all__ = ["AsyncJobClient", "CALL_KINDS", "CallBudget", "ErrorType", "Job", "JobClient", "JobError",
           "LIFECYCLE_KINDS", "LIFECYCLE_QUEUE", "RateLimited", "WORKFLOW_KIND"]
