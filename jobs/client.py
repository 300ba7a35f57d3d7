"""Sending jobs and waiting for them: `JobClient` (sync: Flask, the scheduler, workers sending jobs on)
and `AsyncJobClient` (asyncio: the MCP proxy). Both encode, route and wait the same way, through the
broker's one enqueue path and the pieces below; only their I/O differs.
"""
from __future__ import annotations

import time
from dataclasses import asdict

import redis

from config import Section
from jobs import events, lost, registry, stream
from jobs.broker import RateLimit, RoutingRedisBroker, build_broker
from jobs.connection import aredis_client
from jobs.events import JobError, RateLimited
from jobs.job import CANCEL_KIND, CallBudget, Job
from jobs.keys import call_budget_key, cancel_key, lease_key, stream_key, worker_key, workers_key
from jobs.leases import ToolOwnerLease

CANCEL_TTL_S = 3600
FIRST_BLOCK_MAX_MS = 1000  # the XREAD pipelined behind the enqueue; later ones block this long too


def rate_limit(settings: Section, job: Job, budget: CallBudget | None) -> RateLimit | None:
    """The enqueue script's form of a caller's call budget."""
    if budget is None:
        return None
    window = int(time.time() * 1000) // budget.window_ms
    return RateLimit(call_budget_key(settings, budget.who, window), budget.amount, budget.window_ms,
                     stream_key(settings, job.id), stream.encode(events.rate_limited(budget.description)),
                     settings.mcp.jobs.stream_maxlen, settings.mcp.jobs.result_ttl_s)


def owner_key(settings: Section, job: Job, queue: str | None) -> str | None:
    """Route by the tool's owner lease, unless the sender named the queue."""
    return lease_key(settings, job.tool_id) if queue is None and job.tool_id is not None else None


class ResultWait:
    """Where a wait for a job's final event stands: the stream position, the time left, and whether
    an idle read should ask if the job's worker is still alive."""

    def __init__(self, job_id: str, timeout_s: float, worker_id: str | None, stop_at_input: bool = False,
                 job: Job | None = None):
        self.job_id = job_id
        self.timeout_s = timeout_s
        self.worker_id = worker_id
        self.deadline = time.monotonic() + timeout_s
        self.after = "0"
        self.stop_at_input = stop_at_input  # a question to the client ends the wait too
        self.job = asdict(job) if job is not None and job.record else None  # what a lost call's task row says

    def publish_lost(self, pipe, settings: Section) -> dict:
        """Queue the worker_lost event on `pipe`, and the note that gets the job its task row (jobs/lost.py)."""
        final = events.worker_lost()
        stream.publish(pipe, settings, self.job_id, final)
        if self.job is not None:
            lost.note(pipe, settings, self.job, self.worker_id, final)
        return final

    def next_block_ms(self) -> int:
        remaining_ms = int((self.deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            raise JobError(f"no result within {self.timeout_s:g} s; the job goes on, see its task", "wait_timeout")
        return min(remaining_ms, FIRST_BLOCK_MAX_MS)

    def take(self, received: list[tuple[str, dict]]) -> dict | None:
        """The final event among `received`, if there (or the first input request, when stopping at those)."""
        for entry_id, event in received:
            self.note(entry_id, event)
            if events.is_final(event) or (self.stop_at_input and events.is_input_request(event)):
                return event
        return None

    def note(self, entry_id: str, event: dict) -> None:
        self.after = entry_id
        if event.get("type") == events.HANDED_BACK:  # another worker will run it: its first one's fate is moot
            self.worker_id = None

    def should_check_worker(self, received: list) -> bool:
        return not received and self.worker_id is not None


class JobClient:
    def __init__(self, broker: RoutingRedisBroker, client: redis.Redis, settings: Section):
        self.broker = broker
        self.redis = client
        self.settings = settings
        self.leases = ToolOwnerLease(client, settings)

    @classmethod
    def from_settings(cls, settings: Section, client: redis.Redis) -> "JobClient":
        return cls(build_broker(settings, client), client, settings)

    def owner_of(self, tool_id: int) -> str | None:
        return self.leases.owner(tool_id)

    def submit(self, job: Job, queue: str | None = None, limit: CallBudget | None = None) -> str | None:
        """Enqueue `job` on `queue`, by default on the queue of the worker owning its tool (decided inside
        Redis, same round trip) or else on the lifecycle queue. Returns the owner worker id, if any;
        raises RateLimited when `limit` is spent."""
        enqueued = self.broker.enqueue_routed(job.message(queue), owner_key(self.settings, job, queue),
                                              rate_limit(self.settings, job, limit))
        if enqueued.message is None:  # refused: the rejection is the stream's final event
            raise RateLimited(stream.final_event(self.redis, self.settings, job.id))
        return enqueued.owner

    def run(self, job: Job, timeout_s: float, limit: CallBudget | None = None, stop_at_input: bool = False) -> dict:
        """Submit `job` and wait for its final event. The first blocking XREAD goes out in the enqueue's
        pipeline: Redis holds it until the worker's reply lands, so a call costs a single round trip.
        A budget refusal is returned as the (failed, rate_limited) event. With `stop_at_input`, the job's
        first question to its client (an input_request event) is returned as well: the job goes on."""
        wait = ResultWait(job.id, timeout_s, None, stop_at_input, job)
        enqueued = self.broker.enqueue_routed(job.message(), owner_key(self.settings, job, None),
                                              rate_limit(self.settings, job, limit),
                                              read_stream=stream_key(self.settings, job.id),
                                              block_ms=wait.next_block_ms())
        wait.worker_id = enqueued.owner
        return wait.take(enqueued.events) or self._wait(wait)

    def wait(self, job_id: str, timeout_s: float, worker_id: str | None = None) -> dict:
        """Block until the job's final event; raise JobError('wait_timeout') when `timeout_s` runs out.
        A job whose worker died gets (and returns) a worker_lost event."""
        return self._wait(ResultWait(job_id, timeout_s, worker_id))

    def _wait(self, wait: ResultWait) -> dict:
        while True:
            received = stream.read(self.redis, self.settings, wait.job_id, wait.after, wait.next_block_ms())
            final = wait.take(received)
            if final is not None:
                return final
            if wait.should_check_worker(received) and not registry.is_alive(self.redis, self.settings, wait.worker_id) \
                    and not stream.read(self.redis, self.settings, wait.job_id, wait.after):  # (handed back just now?)
                pipe = self.redis.pipeline(transaction=False)
                final = wait.publish_lost(pipe, self.settings)
                pipe.execute()
                return final

    def cancel(self, job_id: str) -> None:
        """Cancel a queued or running job: a flag for workers that have not started it, and a control
        message to every live worker for the one that is running it."""
        self.redis.set(cancel_key(self.settings, job_id), 1, ex=CANCEL_TTL_S)
        for worker in registry.live_workers(self.redis, self.settings):
            self.submit(Job(kind=CANCEL_KIND, args={"job_id": job_id}, record=False),
                        registry.worker_queue(worker["id"]))


class AsyncJobClient:
    """The asyncio twin of JobClient (redis.asyncio), for the MCP proxy."""

    def __init__(self, settings: Section, client=None, broker: RoutingRedisBroker | None = None):
        self.settings = settings
        self.redis = client or aredis_client(settings)
        # The broker only encodes and runs enqueue hooks here; its sync client connects lazily, never on this path.
        self.broker = broker or build_broker(settings, redis.Redis.from_url(settings.redis.url))

    async def submit(self, job: Job, queue: str | None = None, limit: CallBudget | None = None) -> str | None:
        enqueued = await self.broker.enqueue_routed_async(
            self.redis, job.message(queue), owner_key(self.settings, job, queue), rate_limit(self.settings, job, limit))
        if enqueued.message is None:  # refused: the rejection is the stream's only event
            rejection = await stream.aread(self.redis, self.settings, job.id)
            raise RateLimited(rejection[-1][1] if rejection else None)
        return enqueued.owner

    async def run(self, job: Job, timeout_s: float, limit: CallBudget | None = None) -> dict:
        wait = ResultWait(job.id, timeout_s, None, job=job)
        enqueued = await self.broker.enqueue_routed_async(
            self.redis, job.message(), owner_key(self.settings, job, None), rate_limit(self.settings, job, limit),
            read_stream=stream_key(self.settings, job.id), block_ms=wait.next_block_ms())
        wait.worker_id = enqueued.owner
        return wait.take(enqueued.events) or await self._wait(wait)

    async def wait(self, job_id: str, timeout_s: float, worker_id: str | None = None) -> dict:
        return await self._wait(ResultWait(job_id, timeout_s, worker_id))

    async def steps(self, job: Job, timeout_s: float, limit: CallBudget | None = None, every_event: bool = False):
        """Submit `job` and yield (entry id, event) for its questions to the client (input_request events;
        with `every_event` its progress and log events too), ending after its final event. The first XREAD
        goes out in the enqueue's pipeline, as in `run`; JobError('wait_timeout') when `timeout_s` runs out."""
        wait = ResultWait(job.id, timeout_s, None, job=job)
        enqueued = await self.broker.enqueue_routed_async(
            self.redis, job.message(), owner_key(self.settings, job, None), rate_limit(self.settings, job, limit),
            read_stream=stream_key(self.settings, job.id), block_ms=wait.next_block_ms())
        wait.worker_id = enqueued.owner
        async for step in self._steps(wait, enqueued.events, every_event):
            yield step

    async def resume_steps(self, job_id: str, after: str, timeout_s: float, every_event: bool = False):
        """`steps` of a job already running, from stream position `after` (a 2026 client's retry)."""
        wait = ResultWait(job_id, timeout_s, None)
        wait.after = after
        async for step in self._steps(wait, [], every_event):
            yield step

    async def _steps(self, wait: ResultWait, received: list, every_event: bool):
        while True:
            for entry_id, event in received:
                wait.note(entry_id, event)
                if every_event or events.is_final(event) or events.is_input_request(event):
                    yield entry_id, event
                if events.is_final(event):
                    return
            received = await stream.aread(self.redis, self.settings, wait.job_id, wait.after, wait.next_block_ms())
            if wait.should_check_worker(received) and not await self._still_answered(wait):
                yield wait.after, await self._worker_lost(wait)
                return

    async def _wait(self, wait: ResultWait) -> dict:
        while True:
            received = await stream.aread(self.redis, self.settings, wait.job_id, wait.after, wait.next_block_ms())
            final = wait.take(received)
            if final is not None:
                return final
            if wait.should_check_worker(received) and not await self._still_answered(wait):
                return await self._worker_lost(wait)

    async def _still_answered(self, wait: ResultWait) -> bool:
        """Its worker is alive, or handed the job back an instant before leaving (the event is there)."""
        return bool(await self.redis.exists(worker_key(self.settings, wait.worker_id))
                    or await stream.aread(self.redis, self.settings, wait.job_id, wait.after))

    async def _worker_lost(self, wait: ResultWait) -> dict:
        pipe = self.redis.pipeline(transaction=False)
        final = wait.publish_lost(pipe, self.settings)
        await pipe.execute()
        return final

    async def follow(self, job_id: str, after: str = "0", block_ms: int = FIRST_BLOCK_MAX_MS):
        """Yield (id, event) as they arrive, ending after the final event (for progress, logs, input requests)."""
        while True:
            for entry_id, event in await stream.aread(self.redis, self.settings, job_id, after, block_ms):
                after = entry_id
                yield entry_id, event
                if events.is_final(event):
                    return

    async def cancel(self, job_id: str) -> None:
        await self.redis.set(cancel_key(self.settings, job_id), 1, ex=CANCEL_TTL_S)
        ids = [member.decode() for member in await self.redis.smembers(workers_key(self.settings))]
        for worker_id in ids:
            if await self.redis.exists(worker_key(self.settings, worker_id)):
                await self.submit(Job(kind=CANCEL_KIND, args={"job_id": job_id}, record=False),
                                  registry.worker_queue(worker_id))

    async def close(self) -> None:
        await self.redis.aclose()
