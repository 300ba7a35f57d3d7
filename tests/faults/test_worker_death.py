"""Fault a: a worker process killed with SIGKILL (the OOM killer's way), mid-call and mid-start.

The caller hears worker_lost (503) within a few lease lifetimes, the call ran at most once, and the other
worker takes the tool over; a start in flight is not lost: the start job ends succeeded, run by the survivor.
"""
import os
import signal
import threading
import time

import psutil
import pytest

from models import Task, Tool
from tests.faults.conftest import worker_pid
from tests.harness import make_stdio_tool, wait_for
from jobs import Job, JobClient
from jobs.connection import redis_client
from jobs.leases import ToolOwnerLease


def count(calls_file, name: str) -> int:
    return calls_file.read_text().splitlines().count(name) if calls_file.exists() else 0


def test_given_a_slow_call_in_flight_when_its_worker_is_killed_then_503_worker_lost_and_the_tool_moves_on(
        fault_settings, database, start_workers, operator, tmp_path):
    # Given two workers and a tool counting its executions, started through the API
    client, headers = operator
    first, second = start_workers(fault_settings, 2)
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    response = client.post(f"/api/v1/tools/{tool.id}/start?wait=true", headers=headers)
    assert response.status_code == 200, response.json
    leases = ToolOwnerLease(redis_client(fault_settings), fault_settings)
    victim_id = leases.owner(tool.id)
    victim = next(w for w in (first, second) if w.wait_ready() == victim_id)
    _, victim_pid = worker_pid(victim, fault_settings)

    # When a slow call (20 s) is in flight through the API and its worker is killed
    answer = {}

    def call() -> None:
        started = time.monotonic()
        answer["response"] = client.post(f"/api/v1/tools/{tool.id}/call", headers=headers, json={
            "tool": "slow", "arguments": {"steps": 200, "delay": 0.1}, "timeout": 30})
        answer["seconds"] = time.monotonic() - started
    caller = threading.Thread(target=call)
    caller.start()
    # and an asynchronous one (202 + task) too
    accepted = client.post(f"/api/v1/tools/{tool.id}/call?async=true", headers=headers, json={
        "tool": "slow", "arguments": {"steps": 200, "delay": 0.1}})
    assert accepted.status_code == 202, accepted.json
    wait_for(lambda: count(calls_file, "slow") == 2, timeout=10)
    os.kill(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    caller.join(15)

    # Then the waiting caller gets 503 worker_lost quickly (the lease's lifetime and a read's block, not the 30 s)
    assert not caller.is_alive()
    response = answer["response"]
    assert response.status_code == 503, response.json
    assert response.json["errors"]["error_type"] == "worker_lost"
    assert time.monotonic() - killed_at < 5
    # and the asynchronous call's task says so too
    task = wait_for(lambda: (t := client.get(f"/api/v1/tasks/{accepted.json['task_id']}", headers=headers).json)
                    .get("status") in ("failed", "succeeded", "cancelled") and t, timeout=5)
    assert task["status"] == "failed" and task["error_type"] == "worker_lost", task
    # and the survivor takes the tool over, and a new call succeeds
    wait_for(lambda: leases.owner(tool.id) not in (None, victim_id)
             and Tool.get_by_id(tool.id).status == "RUNNING", timeout=10)
    again = client.post(f"/api/v1/tools/{tool.id}/call", headers=headers,
                        json={"tool": "echo", "arguments": {"text": "after"}})
    assert again.status_code == 200, again.json
    assert again.json["content"][0]["text"] == "after"
    # and the slow call ran once (it was never re-run), the new one once
    time.sleep(0.5)
    assert count(calls_file, "slow") == 2
    assert count(calls_file, "echo") == 1


def test_given_a_start_in_flight_when_its_worker_is_killed_then_the_start_is_not_lost(
        fault_settings, database, start_workers):
    # Given two workers and a server that takes 3 s before it answers `initialize`
    first, second = start_workers(fault_settings, 2)
    redis = redis_client(fault_settings)
    jobs = JobClient.from_settings(fault_settings, redis)
    leases = ToolOwnerLease(redis, fault_settings)
    tool = make_stdio_tool("sleepy", "slow_start_server.py")
    tool.args = [*tool.args, "3"]
    tool.save()

    # When its start job is taken by one worker and that worker is killed while the server starts
    start = Job(kind="start", tool_id=tool.id)
    jobs.submit(start)
    victim_id = wait_for(lambda: leases.owner(tool.id), timeout=10)
    wait_for(lambda: Tool.get_by_id(tool.id).pid, timeout=10)  # its server process exists
    victim = next(w for w in (first, second) if w.wait_ready() == victim_id)
    survivor_id = next(w for w in (first, second) if w is not victim).wait_ready()
    _, victim_pid = worker_pid(victim, fault_settings)
    os.kill(victim_pid, signal.SIGKILL)

    # Then the start job still ends succeeded, run by the survivor, and the tool runs there
    outcome = jobs.wait(start.id, 20)
    assert outcome["status"] == "succeeded", outcome
    assert outcome["worker"] == survivor_id
    row = wait_for(lambda: (r := Tool.get_by_id(tool.id)).status == "RUNNING" and r, timeout=10)
    assert leases.owner(tool.id) == survivor_id and row.owner_worker == survivor_id
    # and one server process serves it: the one the dead worker started is gone
    call = jobs.run(Job(kind="call", tool_id=tool.id, args={"tool": "pid", "arguments": {}}), 10)
    assert call["status"] == "succeeded" and int(call["result"]["content"][0]["text"]) == row.pid


def test_given_many_starts_of_one_tool_at_once_when_they_race_then_one_server_process(
        fault_settings, database, start_workers):
    # Given one worker (8 job threads) and a stopped tool
    worker, = start_workers(fault_settings)
    jobs = JobClient.from_settings(fault_settings, redis_client(fault_settings))
    tool = make_stdio_tool("echo", "echo_server.py")

    # When eight start jobs arrive together (as a takeover and a re-sent start do after a worker died)
    starts = [Job(kind="start", tool_id=tool.id) for _ in range(8)]
    for job in starts:
        jobs.submit(job)

    # Then all succeed, and a single server process runs it
    assert [jobs.wait(job.id, 20)["status"] for job in starts] == ["succeeded"] * 8
    _, pid = worker_pid(worker, fault_settings)
    servers = [p for p in psutil.Process(pid).children(recursive=True)
               if any(part.endswith("echo_server.py") for part in p.cmdline())]
    assert [p.pid for p in servers] == [Tool.get_by_id(tool.id).pid]


def test_given_calls_queued_for_a_worker_that_died_when_their_callers_hear_worker_lost_then_they_never_run(
        fault_settings, database, start_workers, tmp_path):
    # Given two workers and a tool counting its executions
    first, second = start_workers(fault_settings, 2)
    redis = redis_client(fault_settings)
    jobs = JobClient.from_settings(fault_settings, redis)
    leases = ToolOwnerLease(redis, fault_settings)
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    assert jobs.run(Job(kind="start", tool_id=tool.id), 20)["status"] == "succeeded"
    owner = leases.owner(tool.id)
    victim = next(w for w in (first, second) if w.wait_ready() == owner)

    # When its owner dies, and calls are sent while its lease still names it (they queue for it)
    os.kill(worker_pid(victim, fault_settings)[1], signal.SIGKILL)
    calls = [Job(kind="call", tool_id=tool.id, args={"tool": "echo", "arguments": {"text": str(n)}}) for n in range(3)]
    routed = [jobs.submit(job) for job in calls]
    assert routed == [owner] * 3
    outcomes = [jobs.wait(job.id, 15, worker_id=owner) for job in calls]

    # Then what each caller reads is what happened: a call reported lost never runs afterwards
    wait_for(lambda: leases.owner(tool.id) not in (None, owner) and Tool.get_by_id(tool.id).status == "RUNNING",
             timeout=10)
    time.sleep(1)
    lost = [o for o in outcomes if o.get("error_type") == "worker_lost"]
    succeeded = [o for o in outcomes if o["status"] == "succeeded"]
    assert len(lost) + len(succeeded) == 3, outcomes
    assert count(calls_file, "echo") == len(succeeded), (outcomes, calls_file.read_text())


def test_given_a_sync_call_in_flight_when_its_worker_dies_then_its_task_is_recorded_as_worker_lost(
        fault_settings, database, start_workers, operator, tmp_path):
    # Given two workers and a tool counting its executions
    client, headers = operator
    first, second = start_workers(fault_settings, 2)
    redis = redis_client(fault_settings)
    jobs = JobClient.from_settings(fault_settings, redis)
    calls_file = tmp_path / "calls.txt"
    tool = make_stdio_tool("echo", "echo_server.py", env={"ECHO_CALLS_FILE": str(calls_file)})
    assert jobs.run(Job(kind="start", tool_id=tool.id), 20)["status"] == "succeeded"
    owner = ToolOwnerLease(redis, fault_settings).owner(tool.id)
    victim = next(w for w in (first, second) if w.wait_ready() == owner)
    # and a synchronous REST call that never answers in flight on it (a sync call writes no row before its reply)
    answer = {}
    caller = threading.Thread(target=lambda: answer.setdefault("response", client.post(
        f"/api/v1/tools/{tool.id}/call", headers=headers, json={"tool": "hang", "arguments": {}, "timeout": 30})))
    caller.start()
    wait_for(lambda: count(calls_file, "hang") == 1, timeout=10)

    # When its worker is killed
    os.kill(worker_pid(victim, fault_settings)[1], signal.SIGKILL)
    caller.join(15)

    # Then the caller reads worker_lost, and the call's task is recorded as failed with that reason, naming
    # the dead worker, as GET /tasks/{id} shows
    response = answer["response"]
    assert response.status_code == 503 and response.json["errors"]["error_type"] == "worker_lost", response.json
    task_id = response.json["errors"]["task_id"]
    row = wait_for(lambda: Task.get_or_none(Task.id == task_id), timeout=10)
    assert (row.status, row.error_type, row.worker_id, row.kind, row.tool_id) == (
        "failed", "worker_lost", owner, "call", tool.id)
    task = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json
    assert task["status"] == "failed" and task["error_type"] == "worker_lost", task
    assert count(calls_file, "hang") == 1
