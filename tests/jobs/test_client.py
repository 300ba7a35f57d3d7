"""JobClient and AsyncJobClient: the same routing, waiting and failure handling, sync and asyncio.

A thread stands in for the worker that owns a tool: it pops the job off its direct queue and answers on
the job's stream, as workers.actors does."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest

from jobs import AsyncJobClient, CallBudget, Job, JobClient, JobError, RateLimited, events, registry, stream
from jobs.keys import cancel_key, lease_key


@pytest.fixture
def owner(settings, redis, broker):
    """A stand-in worker "w1" owning tool 5: answers each call with its arguments."""
    redis.set(lease_key(settings, 5), "w1")
    registry.beat(redis, settings, {"id": "w1"})
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            popped = redis.blpop([broker.direct_key("worker.w1")], timeout=0.05)
            if popped:
                job = json.loads(popped[1])["args"][0]
                if job["kind"] != "cancel":
                    stream.publish_now(redis, settings, job["id"], events.progress(1, 1))
                    stream.publish_now(redis, settings, job["id"], events.succeeded({"echo": job["args"]}))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "w1"
    stop.set()
    thread.join()


def test_given_an_owned_tool_when_run_then_the_owner_answers(settings, redis, owner):
    jobs = JobClient.from_settings(settings, redis)

    event = jobs.run(Job(kind="call", tool_id=5, args={"x": 1}), 5)

    assert event["status"] == "succeeded" and event["result"] == {"echo": {"x": 1}}


def test_given_an_owned_tool_when_run_from_asyncio_then_the_owner_answers_and_events_can_be_followed(
        settings, owner):
    async def scenario():
        jobs = AsyncJobClient(settings)
        try:
            job = Job(kind="call", tool_id=5, args={"x": 2})
            final = await jobs.run(job, 5)
            followed = [event["type"] async for _, event in jobs.follow(job.id)]
            return final, followed
        finally:
            await jobs.close()

    final, followed = asyncio.run(scenario())

    assert final["result"] == {"echo": {"x": 2}}
    assert followed == ["progress", "result"]


def test_given_nobody_answers_when_waiting_then_wait_timeout_sync_and_async(settings, redis):
    job = Job(kind="start", tool_id=99)

    with pytest.raises(JobError) as sync_error:
        JobClient.from_settings(settings, redis).run(job, 0.2)

    async def scenario():
        jobs = AsyncJobClient(settings)
        try:
            await jobs.run(Job(kind="start", tool_id=99), 0.2)
        finally:
            await jobs.close()
    with pytest.raises(JobError) as async_error:
        asyncio.run(scenario())

    assert sync_error.value.error_type == async_error.value.error_type == "wait_timeout"


def test_given_the_owner_is_dead_when_waiting_then_worker_lost_is_published_once(settings, redis):
    redis.set(lease_key(settings, 6), "gone")  # a lease without a live worker heartbeat
    jobs = JobClient.from_settings(settings, redis)
    job = Job(kind="call", tool_id=6)

    event = jobs.run(job, 5)

    assert event["error_type"] == "worker_lost"
    assert stream.final_event(redis, settings, job.id)["error_type"] == "worker_lost"


def test_given_the_owner_is_dead_when_waiting_from_asyncio_then_worker_lost(settings, redis):
    redis.set(lease_key(settings, 6), "gone")

    async def scenario():
        jobs = AsyncJobClient(settings)
        try:
            return await jobs.run(Job(kind="call", tool_id=6), 5)
        finally:
            await jobs.close()

    assert asyncio.run(scenario())["error_type"] == "worker_lost"


def test_given_a_spent_budget_when_submitting_then_rate_limited_sync_and_async(settings, redis):
    budget = CallBudget(who="key:1", amount=1, window_ms=60_000, description="1 per minute")
    jobs = JobClient.from_settings(settings, redis)
    jobs.submit(Job(kind="call", tool_id=1), limit=budget)

    with pytest.raises(RateLimited) as sync_refusal:
        jobs.submit(Job(kind="call", tool_id=1), limit=budget)

    async def scenario():
        client = AsyncJobClient(settings)
        try:
            await client.submit(Job(kind="call", tool_id=1), limit=budget)
        finally:
            await client.close()
    with pytest.raises(RateLimited) as async_refusal:
        asyncio.run(scenario())

    assert sync_refusal.value.event["error_type"] == async_refusal.value.event["error_type"] == "rate_limited"
    assert JobClient.from_settings(settings, redis).run(Job(kind="call", tool_id=1), 1, budget)["error_type"] == "rate_limited"


def test_given_a_live_worker_when_a_job_is_cancelled_then_a_flag_is_set_and_the_worker_told(settings, redis, broker):
    registry.beat(redis, settings, {"id": "w9"})

    async def scenario():
        client = AsyncJobClient(settings)
        try:
            await client.cancel("job-a")
        finally:
            await client.close()
    asyncio.run(scenario())
    JobClient.from_settings(settings, redis).cancel("job-b")

    assert redis.exists(cancel_key(settings, "job-a")) and redis.exists(cancel_key(settings, "job-b"))
    told = [json.loads(raw)["args"][0] for raw in redis.lrange(broker.direct_key("worker.w9"), 0, -1)]
    assert [(job["kind"], job["args"]["job_id"]) for job in told] == [("cancel", "job-a"), ("cancel", "job-b")]
