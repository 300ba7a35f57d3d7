"""Broker set-up from settings, for both sides: `build_broker(settings)` (API, proxy, tests) and
`setup()` (the worker processes, called by the Dramatiq CLI: `dramatiq workers.main:setup`).
"""
from __future__ import annotations

import logging
import sys

import dramatiq
from dramatiq.middleware import Middleware, Retries

from config import Section, load_settings, secret
from models import bind_database, bind_encryption_key
from models.migrate import upgrade
from workers import actors
from workers.broker import WakeupRedisBroker
from workers.db_connections import ReturnDatabaseConnection
from workers.jobs import ACTOR, LIFECYCLE_QUEUE
from workers.redis_client import redis_client, wait_for_redis

log = logging.getLogger("mcps.worker")
SWITCH_INTERVAL_S = 0.0005


def build_broker(settings: Section, client=None) -> WakeupRedisBroker:
    """The broker, with only the middleware the job path needs: retries are for lifecycle jobs only
    (idempotent); calls are at-most-once and never retried."""
    client = client or redis_client(settings)
    return WakeupRedisBroker(client=client, namespace=f"{settings.redis.namespace}:dq",
                             middleware=[Retries(max_retries=0)])


class RuntimeMiddleware(Middleware):
    """Creates this worker process's runtime at boot and shuts it down (tools, leases) at exit."""

    def __init__(self, settings: Section):
        self.settings = settings
        self.runtime = None

    def before_worker_boot(self, broker, worker) -> None:
        from workers.runtime import WorkerRuntime

        # A thread woken by Redis (a call arriving) waits for the GIL up to the switch interval while
        # another thread runs Python code: 5 ms by default, far more than a whole call costs.
        sys.setswitchinterval(SWITCH_INTERVAL_S)

        bind_database(self.settings)
        self.runtime = actors.runtime = WorkerRuntime(self.settings, broker)
        # Before any consumer starts, so that Dramatiq's ack sets carry our worker id (the reaper reads them).
        broker.broker_id = self.runtime.id

    def after_worker_boot(self, broker, worker) -> None:
        self.runtime.start()

    def after_worker_shutdown(self, broker, worker) -> None:
        if self.runtime is not None:
            self.runtime.shutdown()


def register_actors(broker: dramatiq.Broker) -> None:
    dramatiq.actor(actors.run_job, actor_name=ACTOR, queue_name=LIFECYCLE_QUEUE, broker=broker, max_retries=0)


def setup(settings: Section | None = None) -> WakeupRedisBroker:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.logging.level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    client = redis_client(settings)
    wait_for_redis(client)
    database = bind_database(settings)
    bind_encryption_key(secret(settings, "encryption_key"))
    upgrade(database)
    database.close()
    broker = build_broker(settings, client)
    broker.add_middleware(RuntimeMiddleware(settings))
    broker.add_middleware(ReturnDatabaseConnection())
    register_actors(broker)
    dramatiq.set_broker(broker)
    return broker
