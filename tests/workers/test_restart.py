"""A graceful rolling restart (POST /api/v1/system/restart runs it as a job): every worker process of
`python -m workers` is replaced one at a time, the tool keeps being served, no call is lost."""
from __future__ import annotations

import threading

from jobs import registry
from jobs.connection import redis_client
from models import Tool, db
from tests.harness import make_stdio_tool, wait_for


def test_given_two_workers_and_calls_in_flight_when_restarted_then_all_replaced_and_no_call_lost(
        settings, database, run_job_for, start_procfile_worker):
    # Given the Procfile's worker with two processes and a running tool
    start_procfile_worker(processes=2)
    client = redis_client(settings)
    before = {w["id"] for w in registry.live_workers(client, settings)}
    tool = make_stdio_tool("legacy", "legacy_server.py")
    assert run_job_for(settings, "start", tool.id)["status"] == "succeeded"
    # and a client calling it all along
    outcomes, stop = [], threading.Event()

    def keep_calling():
        while not stop.is_set():
            event = run_job_for(settings, "call", tool.id, wait_s=60, tool="echo", arguments={"text": "x"})
            outcomes.append((event["status"], event.get("error")))

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        # When a rolling restart runs
        restart = run_job_for(settings, "rolling_restart", wait_s=120)
        assert restart["status"] == "succeeded", restart

        # Then every worker process was replaced, as many are live as before
        wait_for(lambda: (lambda live: len(live) == 2 and not live & before)(
            {w["id"] for w in registry.live_workers(client, settings)}), timeout=60)
        assert set(restart["result"]["restarted"]) == before
        # and the tool is served by one of the new ones
        db.close()
        wait_for(lambda: (db.close(), Tool.get_by_id(tool.id).status == "RUNNING")[1], timeout=30)
    finally:
        stop.set()
        caller.join(90)
    # and no call was lost
    assert len(outcomes) > 5 and [o for o in outcomes if o[0] != "succeeded"] == []
