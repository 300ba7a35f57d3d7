"""The enqueue side: one script routes a job to its tool owner's queue, wakes the shared queue's
consumers, checks the call budget, and can read the job's stream in the same round trip."""
from __future__ import annotations

import asyncio
import json

from dramatiq.middleware import Middleware

from jobs import events
from jobs.broker import Enqueued
from jobs.client import rate_limit
from jobs.connection import aredis_client
from jobs.job import CallBudget, Job
from jobs.keys import lease_key, stream_key
from jobs.stream import publish_now


def test_given_no_owner_when_a_job_is_enqueued_then_it_is_on_the_lifecycle_queue_and_wakes_a_consumer(
        settings, broker, redis):
    job = Job(kind="start", tool_id=7)

    enqueued = broker.enqueue_routed(job.message(), lease_key(settings, 7))

    assert enqueued.owner is None and enqueued.message.queue_name == "lifecycle"
    assert redis.lrange(f"{broker.namespace}:lifecycle", 0, -1) == [enqueued.message.message_id.encode()]
    assert redis.llen(broker.wake_key("lifecycle")) == 1
    stored = json.loads(redis.hget(f"{broker.namespace}:lifecycle.msgs", enqueued.message.message_id))
    assert stored["queue_name"] == "lifecycle" and stored["args"][0]["id"] == job.id


def test_given_an_owner_lease_when_a_job_is_enqueued_then_it_goes_whole_to_the_owners_direct_queue(settings, broker, redis):
    redis.set(lease_key(settings, 7), "w1")
    job = Job(kind="call", tool_id=7, args={"tool": "echo"})

    enqueued = broker.enqueue_routed(job.message(), lease_key(settings, 7))

    assert enqueued.owner == "w1" and enqueued.message.queue_name == "worker.w1"
    raw = redis.lpop(broker.direct_key("worker.w1"))
    assert json.loads(raw)["args"][0]["id"] == job.id and json.loads(raw)["queue_name"] == "worker.w1"
    assert not redis.exists(f"{broker.namespace}:lifecycle")


def test_given_many_enqueues_then_the_wake_up_list_stays_capped(broker, redis):
    for _ in range(100):
        broker.enqueue_routed(Job(kind="ping").message())

    assert redis.llen(broker.wake_key("lifecycle")) == 64


def test_given_a_spent_budget_when_enqueuing_then_refused_and_the_rejection_is_on_the_jobs_stream(settings, broker, redis):
    budget = CallBudget(who="user:1", amount=2, window_ms=60_000, description="2 per minute")
    for _ in range(2):
        job = Job(kind="call", tool_id=1)
        assert broker.enqueue_routed(job.message(), None, rate_limit(settings, job, budget)).message is not None

    job = Job(kind="call", tool_id=1)
    enqueued = broker.enqueue_routed(job.message(), None, rate_limit(settings, job, budget),
                                     read_stream=stream_key(settings, job.id), block_ms=10)

    assert enqueued.message is None
    [(_, rejection)] = enqueued.events
    assert rejection["error_type"] == "rate_limited" and 0 < rejection["retry_after_ms"] <= 60_000


def test_given_a_reply_already_there_when_enqueuing_with_a_read_then_it_comes_back_in_the_same_round_trip(settings, broker, redis):
    job = Job(kind="ping")
    publish_now(redis, settings, job.id, events.succeeded({"pong": True}))

    enqueued = broker.enqueue_routed(job.message(), read_stream=stream_key(settings, job.id), block_ms=1000)

    assert [event["result"] for _, event in enqueued.events] == [{"pong": True}]


def test_given_redis_forgot_the_script_when_enqueuing_then_it_is_loaded_again(broker, redis):
    redis.script_flush()

    enqueued = broker.enqueue_routed(Job(kind="ping").message())

    assert isinstance(enqueued, Enqueued) and enqueued.message.queue_name == "lifecycle"


def test_given_enqueue_middleware_when_enqueuing_then_its_hooks_run(broker):
    seen = []

    class Recorder(Middleware):
        def before_enqueue(self, broker, message, delay):
            seen.append(("before", message.queue_name))

        def after_enqueue(self, broker, message, delay):
            seen.append(("after", message.queue_name))

    broker.add_middleware(Recorder())
    broker.enqueue(Job(kind="ping").message())

    assert seen == [("before", "lifecycle"), ("after", "lifecycle")]


async def _enqueue_async(settings, broker, job, **options):
    client = aredis_client(settings)
    try:
        return await broker.enqueue_routed_async(client, job.message(), **options)
    finally:
        await client.aclose()


def test_given_an_owner_when_enqueued_from_asyncio_then_routed_the_same_way(settings, broker, redis):
    redis.set(lease_key(settings, 9), "w2")
    job = Job(kind="call", tool_id=9)

    enqueued = asyncio.run(_enqueue_async(settings, broker, job, owner_key=lease_key(settings, 9)))

    assert enqueued.owner == "w2" and enqueued.message.queue_name == "worker.w2"
    assert json.loads(redis.lpop(broker.direct_key("worker.w2")))["args"][0]["id"] == job.id

