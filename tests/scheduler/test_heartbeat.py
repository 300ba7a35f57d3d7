import json
import logging

from scheduler.jobs import JobContext, heartbeat, heartbeat_key, periodic_jobs
from jobs.connection import redis_client


def test_given_the_default_jobs_then_there_is_a_heartbeat_every_configured_period(settings):
    jobs = {job.name: job for job in periodic_jobs(settings.replace(**{"scheduler.heartbeat_s": 7}))}

    assert jobs["heartbeat"].trigger.interval.total_seconds() == 7


def test_given_a_leader_when_the_heartbeat_runs_then_it_logs_and_writes_a_key_with_a_ttl(settings, caplog):
    client = redis_client(settings)
    caplog.set_level(logging.INFO, logger="mcps.scheduler")

    heartbeat(JobContext(settings, client, "leader-1"))

    assert "event=scheduler.heartbeat leader=leader-1" in caplog.text
    assert json.loads(client.get(heartbeat_key(settings)))["leader"] == "leader-1"
    assert 0 < client.pttl(heartbeat_key(settings)) <= settings.scheduler.heartbeat_s * 3000
