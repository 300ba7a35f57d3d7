"""`python -m scheduler`: the Procfile's scheduler process. Stops cleanly on SIGTERM / SIGINT."""
from __future__ import annotations

import logging
import signal
import sys

import redis

from config import load_settings
from models.log_sink import setup_process_logging
from models import bind_database
from scheduler.jobs import periodic_jobs
from scheduler.runner import PeriodicScheduler
from jobs.connection import redis_client, wait_for_redis
from jobs.keys import config_generation_key
from models.runtime_settings import LiveSettings, apply_log_level

log = logging.getLogger("mcps.scheduler")

REDIS_START_TIMEOUT_S = 30.0


def main() -> int:
    settings = load_settings()
    setup_process_logging(settings, "scheduler")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run at INFO

    # A Redis call must not outlive the leader's trust in its lock (a third of the TTL).
    timeout_s = settings.scheduler.leader_ttl_ms / 1000 / 3
    client = redis_client(settings, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    redis_location = settings.redis.url.split("@")[-1]
    try:
        wait_for_redis(client, REDIS_START_TIMEOUT_S)  # under honcho, Redis may start a moment later
    except (redis.RedisError, OSError) as error:
        log.error("event=scheduler.redis_unreachable redis=%s error=%r", redis_location, str(error))
        return 1

    bind_database(settings)  # scheduled workflows read their definitions
    # The settings changed at run time (stored in the database) apply from the start and while we run.
    live = LiveSettings(settings, lambda: client.get(config_generation_key(settings)))
    settings = live.refresh()
    apply_log_level(settings)
    scheduler = PeriodicScheduler(settings, periodic_jobs(settings), client, follow=live)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.stop())
    log.info("event=scheduler.started id=%s redis=%s jobs=%s", scheduler.id, redis_location,
             ",".join(scheduler.job_names))
    scheduler.run()
    log.info("event=scheduler.stopped id=%s", scheduler.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
