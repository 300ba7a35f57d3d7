"""A worker process, wired in plain sight: `dramatiq workers.main:setup` (see workers/__main__.py).

Dramatiq calls `setup()` in each worker process. It builds, in this order: the runtime (the MCP loop
and the sessions of the tools this process owns), the job runner (what each job does), and the broker
whose consumers hand calls straight to the runner (`direct_dispatch`); then registers the runner's
`run_job` as the one actor. The call path is therefore: consumers.DirectConsumer -> JobRunner.
dispatch_on_loop (or run_job) -> ToolSession.request on the MCP loop -> the result event on the job's
stream (jobs/stream.py) -> the bookkeeper's task and history rows.
"""
from __future__ import annotations

import logging
import sys

import dramatiq
from dramatiq.middleware import Middleware, Retries

from config import Section, load_settings, secret
from jobs import live_events
from models.log_sink import log_sink, setup_process_logging
from jobs.connection import redis_client, wait_for_redis
from jobs.job import ACTOR, LIFECYCLE_QUEUE
from jobs.keys import broker_namespace
from models import bind_database, bind_encryption_key
from models.migrate import upgrade
from workers.actors import JobRunner
from workers.consumers import WorkerBroker
from workers.db_connections import ReturnDatabaseConnection
from workers.runtime import WorkerRuntime

log = logging.getLogger("mcps.worker")
# A thread woken by Redis (a call arriving) waits for the GIL up to the switch interval while another
# thread runs Python code: 5 ms by default, far more than a whole call costs.
SWITCH_INTERVAL_S = 0.0005


class RuntimeLifetime(Middleware):
    """Starts the runtime once Dramatiq's worker is up (and consumes its own queue from then on), and
    shuts it down (tools stopped, leases released, queued jobs handed back) after the worker stopped."""

    def __init__(self, runtime: WorkerRuntime):
        self.runtime = runtime

    def after_worker_boot(self, broker, worker) -> None:
        self.runtime.start()
        broker.declare_queue(self.runtime.queue)  # Dramatiq's worker adds a consumer for it

    def after_worker_shutdown(self, broker, worker) -> None:
        self.runtime.shutdown()


def setup(settings: Section | None = None) -> WorkerBroker:
    settings = settings or load_settings()
    setup_process_logging(settings, "worker")
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    client = redis_client(settings)
    wait_for_redis(client)
    database = bind_database(settings)
    bind_encryption_key(secret(settings, "encryption_key"))
    upgrade(database)
    database.close()

    runtime = WorkerRuntime(settings)
    log_sink.on_written.append(live_events.sink_publisher(client, settings))
    runner = JobRunner(runtime)
    # Retries are off: calls are at-most-once; lifecycle jobs of a dead worker are re-sent by the reaper.
    broker = WorkerBroker(client=client, namespace=broker_namespace(settings), middleware=[Retries(max_retries=0)],
                          direct_dispatch=runner.dispatch_on_loop)
    broker.broker_id = runtime.id  # Dramatiq's ack sets carry our worker id: the reaper reads them
    broker.add_middleware(RuntimeLifetime(runtime))
    broker.add_middleware(ReturnDatabaseConnection())
    dramatiq.actor(runner.run_job, actor_name=ACTOR, queue_name=LIFECYCLE_QUEUE, broker=broker, max_retries=0)
    dramatiq.set_broker(broker)
    return broker
