"""The worker's consumers: a shared queue's consumer wakes on enqueue instead of sleeping, a worker
queue's consumer hands calls to the runner directly when it accepts them, and gives back what it took."""
from __future__ import annotations

import threading
import time

import pytest
from dramatiq.middleware import Retries

from jobs.connection import redis_client
from jobs.job import Job
from jobs.keys import broker_namespace
from workers.consumers import WorkerBroker


@pytest.fixture
def make_broker(settings):
    def make(direct_dispatch=lambda message: False):
        return WorkerBroker(client=redis_client(settings), namespace=broker_namespace(settings),
                            middleware=[Retries(max_retries=0)], direct_dispatch=direct_dispatch)
    return make


def test_given_an_idle_shared_queue_consumer_when_a_job_is_enqueued_then_it_wakes_at_once(make_broker):
    broker = make_broker()
    broker.declare_queue("lifecycle")
    consumer = broker.consume("lifecycle", prefetch=1, timeout=5000)
    job = Job(kind="start", tool_id=1)
    threading.Timer(0.2, lambda: broker.enqueue(job.message())).start()

    started = time.monotonic()
    message = next(consumer)
    waited = time.monotonic() - started

    assert message is not None and message.args[0]["id"] == job.id
    assert 0.15 < waited < 0.5  # woken by the enqueue, not by a poll or the 5 s timeout
    consumer.ack(message)
    consumer.close()


def test_given_a_worker_queue_when_the_runner_takes_the_call_then_the_consumer_yields_nothing(make_broker):
    taken = []
    broker = make_broker(direct_dispatch=lambda message: taken.append(message.args[0]["id"]) or True)
    consumer = broker.consume("worker.w1", prefetch=4, timeout=100)
    job = Job(kind="call", tool_id=1)
    broker.enqueue(job.message("worker.w1"))

    assert next(consumer) is None and taken == [job.id]
    consumer.close()


def test_given_a_worker_queue_when_the_runner_declines_then_the_message_goes_to_dramatiq(make_broker):
    broker = make_broker(direct_dispatch=lambda message: False)
    consumer = broker.consume("worker.w1", prefetch=4, timeout=100)
    job = Job(kind="start", tool_id=1)
    broker.enqueue(job.message("worker.w1"))

    message = next(consumer)

    assert message.args[0]["id"] == job.id
    consumer.close()


def test_given_taken_messages_when_requeued_then_they_are_back_first_in_order(make_broker, settings):
    broker = make_broker()
    consumer = broker.consume("worker.w1", prefetch=4, timeout=100)
    jobs = [Job(kind="start", tool_id=n) for n in range(3)]
    for job in jobs:
        broker.enqueue(job.message("worker.w1"))
    taken = [next(consumer), next(consumer)]

    consumer.requeue([message._message for message in taken])

    again = [next(consumer).args[0]["tool_id"] for _ in range(3)]
    assert again == [0, 1, 2]
    consumer.close()
