"""Leader election among scheduler processes, here as threads sharing the real Redis."""
from __future__ import annotations

import threading
import time
from contextlib import ExitStack, contextmanager

import pytest

from scheduler.jobs import PeriodicJob, every
from scheduler.leader import LeaderLock, current_leader, leader_key
from scheduler.runner import PeriodicScheduler
from jobs.connection import redis_client

TTL_MS = 600


@pytest.fixture
def fast_settings(settings):
    return settings.replace(**{"scheduler.leader_ttl_ms": TTL_MS})


@pytest.fixture
def redis(fast_settings):
    client = redis_client(fast_settings)
    yield client
    client.close()


def wait_until(predicate, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.1f s" % timeout_s)
        time.sleep(0.02)


@contextmanager
def running(scheduler: PeriodicScheduler):
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    try:
        yield scheduler
    finally:
        scheduler.stop()
        thread.join(5)
        assert not thread.is_alive(), "scheduler did not stop"


def recording_job(runs: list):
    """A job firing every 50 ms that records which scheduler ran it."""
    return PeriodicJob("record", every(0.05), lambda context: runs.append(context.leader_id))


def new_scheduler(settings, jobs, name):
    return PeriodicScheduler(settings, jobs, redis_client(settings), scheduler_id=name)


def test_given_two_schedulers_when_both_run_then_exactly_one_leads_and_only_it_runs_jobs(fast_settings, redis):
    runs: list[str] = []
    jobs = [recording_job(runs)]

    with running(new_scheduler(fast_settings, jobs, "a")) as a, running(new_scheduler(fast_settings, jobs, "b")) as b:
        wait_until(lambda: a.is_leader() or b.is_leader())
        time.sleep(TTL_MS / 1000 * 2)  # several renewals and job runs

        leaders = [s.id for s in (a, b) if s.is_leader()]
        assert len(leaders) == 1
        assert current_leader(redis, fast_settings) == leaders[0]
        assert runs and set(runs) == {leaders[0]}


def test_given_a_leader_when_it_stops_then_the_follower_takes_over(fast_settings, redis):
    runs: list[str] = []
    jobs = [recording_job(runs)]
    with ExitStack() as stack:
        first = new_scheduler(fast_settings, jobs, "first")
        stack.enter_context(running(first))
        wait_until(first.is_leader)
        second = new_scheduler(fast_settings, jobs, "second")
        with running(second):
            time.sleep(TTL_MS / 1000)
            assert not second.is_leader()

            stack.close()  # the leader shuts down and gives up its lock

            wait_until(second.is_leader, timeout_s=TTL_MS / 1000 * 2)
            assert current_leader(redis, fast_settings) == "second"
            runs_before = len(runs)
            wait_until(lambda: len(runs) > runs_before)
            assert runs[-1] == "second"
    assert current_leader(redis, fast_settings) is None


def test_given_a_lock_held_by_another_when_refreshing_then_it_is_neither_taken_nor_released(fast_settings, redis):
    redis.set(leader_key(fast_settings), "other", px=TTL_MS)
    lock = LeaderLock(redis, fast_settings, "me")

    assert lock.refresh() is False
    lock.release()

    assert current_leader(redis, fast_settings) == "other"
    assert not lock.is_held()


def test_given_a_lock_whose_holder_went_silent_when_it_expires_then_another_takes_it(fast_settings, redis):
    ttl_ms = 2000  # long enough that the checks between "holder stops trusting" and "key expires" fit in
    settings = fast_settings.replace(**{"scheduler.leader_ttl_ms": ttl_ms})
    silent = LeaderLock(redis, settings, "silent")
    assert silent.refresh() is True
    contender = LeaderLock(redis, settings, "contender")
    assert contender.refresh() is False

    wait_until(lambda: not silent.is_held(), timeout_s=ttl_ms / 1000)
    assert contender.refresh() is False, "the key must outlive the holder's trust in it"

    wait_until(contender.refresh, timeout_s=ttl_ms / 1000)
    assert current_leader(redis, settings) == "contender"
    assert silent.refresh() is False
