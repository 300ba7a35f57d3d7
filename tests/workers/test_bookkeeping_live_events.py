"""A worker's live events ride its bookkeeper: told from any thread without waiting for Redis, published
after each batch's commit in the order they were told, a job's finish after its start and progress."""
import threading
import time

from jobs import live_events
from jobs.connection import redis_client
from workers.bookkeeping import Bookkeeper
from workers.history import JobRecord
from workers.telemetry import publish_live


def stream(redis, settings) -> list[dict]:
    return [live_events.decode(i, f) for i, f in redis.xrange(live_events.events_key(settings))]


def test_given_events_told_from_two_threads_and_a_finished_job_then_they_land_in_order_after_the_commit(
        settings, database):
    # Given a bookkeeper publishing its live events to the test's Redis
    redis = redis_client(settings)
    round_trips = []

    def on_live(items):
        round_trips.append(len(items))
        publish_live(redis, settings, items)
    bookkeeper = Bookkeeper(on_live=on_live)
    bookkeeper.start()
    job = {"id": "j1", "kind": "call", "tool_id": None, "user_id": 7, "args": {}, "submitted_at": time.time()}

    # When a call's start, its progress from another thread, then its record are told, amid 2x500 other events
    bookkeeper.tell(*live_events.task_event(job, "started", "running"))

    def tell_many(thread: int):
        for n in range(500):
            bookkeeper.tell("log", {"thread": thread, "n": n}, None, None)
    threads = [threading.Thread(target=tell_many, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for step in (1, 2):
        bookkeeper.tell(*live_events.task_event(job, "progress", "running", progress=step, total=2))
    for thread in threads:
        thread.join()
    started = time.time() - 0.01
    bookkeeper.record(JobRecord(job, {"status": "succeeded", "result": {"content": []}}, "w1", started, time.time()))
    assert bookkeeper.flush(15)

    # Then the task's events are in order, its finish last (after its row was written), and each thread's too
    events = stream(redis, settings)
    task = [(e["data"]["phase"], e["data"]["status"], e["data"].get("progress")) for e in events if e["kind"] == "task"]
    assert task == [("started", "running", None), ("progress", "running", 1), ("progress", "running", 2),
                    ("finished", "succeeded", None)]
    for thread in range(2):
        assert [e["data"]["n"] for e in events if e["kind"] == "log" and e["data"]["thread"] == thread] == list(range(500))
    # And they went out in batches, not one round trip each
    assert sum(round_trips) == 1004 and len(round_trips) < 1004 / 10
    bookkeeper.stop()
