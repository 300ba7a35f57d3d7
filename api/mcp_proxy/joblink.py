"""The proxy's asyncio client of the job path, until `jobs.AsyncJobClient` lands on main.

Same interface as the coming `jobs.AsyncJobClient` (run / submit / follow / cancel), built on the worker
side's own pieces so that a job sent from here is byte for byte the job the REST API sends: the broker's
enqueue script (routing to the tool owner's queue inside Redis) and the job's result stream. Replace the
import in api/mcp_proxy/app.py with `from jobs import AsyncJobClient` once it exists, and delete this.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from typing import AsyncIterator, Awaitable, Callable

import dramatiq
import redis
import redis.asyncio

from config import Section
from workers import registry, stream
from workers.jobs import ACTOR, LIFECYCLE_QUEUE, CallBudget, Job, JobClient, JobError
from workers.leases import lease_key
from workers.main import build_broker
from workers.redis_client import aredis_client, redis_client

OnEvent = Callable[[dict], Awaitable[None]]
# The first XREAD rides in the same pipeline as the enqueue; later ones block this long at most, so that
# a dead worker is noticed (its registry entry checked) about once a second.
BLOCK_MS = 1000


class AsyncJobClient:
    def __init__(self, settings: Section, client: redis.asyncio.Redis | None = None):
        self.settings = settings
        self.redis = client or aredis_client(settings)
        # The broker only encodes messages and names the enqueue script here: its sync client is used by
        # `cancel`, which is rare and runs in a thread.
        self._sync_redis = redis_client(settings)
        self.broker = build_broker(settings, self._sync_redis)
        self._sync_jobs = JobClient(self.broker, self._sync_redis, settings)

    async def aclose(self) -> None:
        await self.redis.aclose()
        self._sync_redis.close()

    def _enqueue_args(self, job: Job, budget: CallBudget | None) -> tuple[list, list]:
        message = dramatiq.Message(queue_name=LIFECYCLE_QUEUE, actor_name=ACTOR, args=(asdict(job),), kwargs={},
                                   options={})
        owner_key = lease_key(self.settings, job.tool_id) if job.tool_id is not None else None
        return self.broker.enqueue_args(message, owner_key, self._sync_jobs._rate_limit(job, budget))

    async def submit(self, job: Job, budget: CallBudget | None = None) -> str | None:
        """Enqueue on the tool owner's queue (or the lifecycle queue); the owner's worker id, if any."""
        keys, args = self._enqueue_args(job, budget)
        try:
            routed = await self.redis.evalsha(self.broker.enqueue_script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            routed = await self.redis.eval(self.broker.enqueue_script.script, len(keys), *keys, *args)
        return routed[1].decode() if routed[1] else None

    async def run(self, job: Job, timeout_s: float, budget: CallBudget | None = None,
                  on_event: OnEvent | None = None) -> dict:
        """Enqueue `job` and wait for its final event; progress/log events go to `on_event` meanwhile.

        The enqueue and the first blocking XREAD go out in one pipeline (one round trip for a fast call),
        as the sync JobClient does."""
        keys, args = self._enqueue_args(job, budget)
        first_block_ms = max(1, min(int(timeout_s * 1000), BLOCK_MS))
        pipe = self.redis.pipeline(transaction=False)
        pipe.evalsha(self.broker.enqueue_script.sha, len(keys), *keys, *args)
        pipe.xread({stream.stream_key(self.settings, job.id): "0"}, block=first_block_ms, count=100)
        routed, reply = await pipe.execute(raise_on_error=False)
        if isinstance(routed, redis.exceptions.NoScriptError):  # Redis restarted: send it with its script
            owner = await self.submit(job, budget)
            return await self.wait(job.id, timeout_s, owner, on_event=on_event)
        if isinstance(routed, Exception):
            raise routed
        owner = routed[1].decode() if routed[1] else None
        after = "0"
        for entry_id, fields in (reply[0][1] if reply and not isinstance(reply, Exception) else []):
            after = entry_id.decode()
            event = json.loads(fields[b"e"])
            if event.get("type") == stream.FINAL_EVENT:
                return event
            if on_event is not None:
                await on_event(event)
        return await self.wait(job.id, max(timeout_s - first_block_ms / 1000, 0.001), owner, after, on_event)

    async def wait(self, job_id: str, timeout_s: float, worker_id: str | None = None, after: str = "0",
                   on_event: OnEvent | None = None) -> dict:
        """The job's final event; JobError('wait_timeout') when it does not come in time."""
        deadline = time.monotonic() + timeout_s
        async for entry_id, event in self.follow(job_id, after, deadline, worker_id):
            if event.get("type") == stream.FINAL_EVENT:
                return event
            if on_event is not None:
                await on_event(event)
        raise JobError(f"no result within {timeout_s:g} s; the job goes on, see its task", "wait_timeout")

    async def follow(self, job_id: str, after: str = "0", deadline: float | None = None,
                     worker_id: str | None = None) -> AsyncIterator[tuple[str, dict]]:
        """(entry id, event) as they arrive; ends after the final event (or at `deadline`, monotonic)."""
        name = stream.stream_key(self.settings, job_id)
        while True:
            block_ms = BLOCK_MS
            if deadline is not None:
                block_ms = min(block_ms, int((deadline - time.monotonic()) * 1000))
                if block_ms <= 0:
                    return
            reply = await self.redis.xread({name: after}, block=block_ms, count=100)
            if not reply:
                if worker_id and not await asyncio.to_thread(registry.is_alive, self._sync_redis, self.settings,
                                                             worker_id):
                    event = {"type": stream.FINAL_EVENT, "status": "failed", "error_type": "worker_lost",
                             "error": "the worker running this job died; the call was not retried"}
                    await asyncio.to_thread(stream.publish_now, self._sync_redis, self.settings, job_id, event)
                    yield after, event
                    return
                continue
            for entry_id, fields in reply[0][1]:
                after = entry_id.decode()
                event = json.loads(fields[b"e"])
                yield after, event
                if event.get("type") == stream.FINAL_EVENT:
                    return

    async def cancel(self, job_id: str) -> None:
        await asyncio.to_thread(self._sync_jobs.cancel, job_id)


__all__ = ["AsyncJobClient", "CallBudget", "Job", "JobError"]
