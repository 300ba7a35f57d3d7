"""The threads lent to waiting: bounded in total, shared between users only when they are scarce."""
from __future__ import annotations

from api.waits import WaitingThreads


def test_given_a_free_pool_when_one_user_waits_beyond_their_share_then_allowed_until_half_is_used():
    waits = WaitingThreads(total=10, per_user=2)

    taken = [waits.take("user:1") for _ in range(6)]

    assert taken == [True] * 5 + [False]  # past the share of 2 only while half the pool was free
    assert waits.take("user:2") is True  # others still get their share


def test_given_a_full_pool_then_nobody_gets_a_thread_until_one_is_given_back():
    waits = WaitingThreads(total=2, per_user=5)
    assert waits.take("user:1") and waits.take("user:2")

    assert waits.take("user:3") is False
    waits.give_back("user:1")
    assert waits.take("user:3") is True


def test_given_a_stricter_bound_for_one_kind_of_wait_then_it_applies():
    waits = WaitingThreads(total=100, per_user=16)
    assert [waits.take("user:1", per_user=1) for _ in range(2)] == [True, True]  # the pool is mostly free

    for _ in range(60):
        waits.take("user:2")
    assert waits.take("user:1", per_user=1) is False
