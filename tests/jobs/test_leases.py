"""Tool owner leases: one owner at a time, renewed by the owner only, taken back after a Redis restart."""
from __future__ import annotations

from jobs.keys import lease_key
from jobs.leases import ToolOwnerLease


def test_given_a_free_tool_when_two_workers_claim_it_then_only_the_first_owns_it(settings, redis):
    leases = ToolOwnerLease(redis, settings)

    assert leases.claim(1, "w1") is True
    assert leases.claim(1, "w2") is False
    assert leases.claim(1, "w1") is True  # keeping it is claiming it again
    assert leases.owner(1) == "w1"


def test_given_a_lease_when_renewed_then_only_the_owners_are_and_a_vanished_one_is_taken_back(settings, redis):
    leases = ToolOwnerLease(redis, settings)
    leases.claim(1, "w1")
    leases.claim(2, "w2")

    assert leases.renew([1, 2, 3], "w1") == 2  # its own (1) and the vanished one (3), not w2's
    assert leases.owner(3) == "w1" and leases.owner(2) == "w2"
    assert 0 < redis.pttl(lease_key(settings, 1)) <= settings.mcp.worker.lease_ttl_ms


def test_given_a_lease_when_another_worker_releases_it_then_it_stays(settings, redis):
    leases = ToolOwnerLease(redis, settings)
    leases.claim(1, "w1")

    assert leases.release(1, "w2") is False and leases.owner(1) == "w1"
    assert leases.release(1, "w1") is True and leases.owner(1) is None
