"""Fixtures of the job protocol's tests: a Redis client and a client broker on the test's namespace."""
from __future__ import annotations

import pytest

from jobs.broker import build_broker
from jobs.connection import redis_client


@pytest.fixture
def redis(settings):
    client = redis_client(settings)
    yield client
    client.close()


@pytest.fixture
def broker(settings, redis):
    return build_broker(settings, redis)
