"""The metric_sample job: one sample of the host, every running tool's process tree, the queues and the
job rates, stored as MetricSample rows (deleted by retention after monitoring.keep_days).

Tool process figures come from the live stats their owning workers publish with each heartbeat (so a
tool owned on another host is sampled too); open files are added when the process is on this host.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
from datetime import timedelta

import psutil

from jobs import registry, telemetry
from jobs.keys import live_key
from models import MetricSample, Task, Tool, db, utcnow
from workers.runtime import WorkerRuntime


def host_sample(data_dir: str) -> dict:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(data_dir if os.path.isdir(data_dir) else "/")
    load = os.getloadavg()
    return {"host": socket.gethostname(), "cpu_percent": psutil.cpu_percent(interval=0.2),
            "memory_percent": memory.percent, "memory_used_mb": round(memory.used / 2**20, 1),
            "disk_percent": disk.percent, "disk_free_mb": round(disk.free / 2**20, 1),
            "load_1": load[0], "load_5": load[1], "load_15": load[2]}


def local_figures(pid: int | None) -> dict:
    """What psutil says of a process on this host (its own figures, not its children's)."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            return {"open_files": process.num_fds(), "rss_mb": round(process.memory_info().rss / 2**20, 1)}
    except (psutil.Error, ValueError, TypeError):
        return {}


def tool_samples(runtime: WorkerRuntime) -> list[dict]:
    running = list(Tool.select(Tool.id, Tool.name, Tool.pid, Tool.owner_worker).where(Tool.status == "RUNNING"))
    if not running:
        return []
    hosts = {w["id"]: w.get("host") for w in registry.live_workers(runtime.redis, runtime.settings)}
    here = socket.gethostname()
    samples = []
    for tool, raw in zip(running, runtime.redis.mget([live_key(runtime.settings, t.id) for t in running])):
        live = json.loads(raw) if raw else {}  # the owner's last heartbeat: none yet just after a start
        owner, pid = live.get("worker") or tool.owner_worker, live.get("pid") or tool.pid
        local = local_figures(pid) if hosts.get(owner) == here else {}
        samples.append({"tool_id": tool.id, "tool": tool.name, "worker": owner, "pid": pid,
                        "memory_mb": live.get("memory_mb", local.get("rss_mb")), "cpu_percent": live.get("cpu_percent"),
                        "uptime_s": live.get("uptime_s"), "processes": live.get("processes"),
                        "open_files": local.get("open_files")})
    return samples


def queue_depths(runtime: WorkerRuntime) -> dict[str, int]:
    return telemetry.queue_depths(runtime.redis, runtime.settings)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(fraction * 100) - 1], 3)


def job_rates(window: timedelta) -> dict:
    """Calls finished in the last `window`, in all and per tool: count, failures, p50/p95 duration."""
    since = utcnow() - window
    per_tool: dict[int, list] = {}
    for tool_id, status, duration in (Task.select(Task.tool_id, Task.status, Task.duration_ms)
                                      .where((Task.kind == "call") & (Task.finished_at >= since)).tuples()):
        per_tool.setdefault(tool_id, []).append((status, duration))
    seconds = window.total_seconds()
    every = [row for rows in per_tool.values() for row in rows]
    durations = sorted(d for _, d in every if d is not None)
    failed = sum(status != "succeeded" for status, _ in every)
    # The totals first: numeric top-level fields are what /monitoring/metrics charts over time.
    return {"window_s": seconds, "calls": len(every), "per_minute": round(len(every) * 60 / seconds, 2),
            "failed": failed, "error_percent": round(100 * failed / len(every), 2) if every else 0.0,
            "p50_ms": percentile(durations, 0.50), "p95_ms": percentile(durations, 0.95), "tools": [
        {"tool_id": tool_id, "calls": len(rows), "per_minute": round(len(rows) * 60 / seconds, 2),
         "failed": sum(status != "succeeded" for status, _ in rows),
         "p50_ms": percentile(sorted(d for _, d in rows if d is not None), 0.50),
         "p95_ms": percentile(sorted(d for _, d in rows if d is not None), 0.95)}
        for tool_id, rows in sorted(per_tool.items(), key=lambda item: item[0] or 0)]}


def sample_metrics(runtime: WorkerRuntime) -> dict:
    settings = runtime.settings
    now = utcnow()
    host = host_sample(settings.app.data_dir)
    tools = tool_samples(runtime)
    queues = queue_depths(runtime)
    jobs = job_rates(timedelta(seconds=settings.monitoring.interval_s))
    rows = [{"source": "host", "tool_id": None, "data": host, "created_at": now},
            {"source": "queues", "tool_id": None, "data": queues, "created_at": now},
            {"source": "jobs", "tool_id": None, "data": jobs, "created_at": now}]
    rows += [{"source": "tool", "tool_id": tool["tool_id"], "data": tool, "created_at": now} for tool in tools]
    with db.atomic():
        MetricSample.insert_many(rows).execute()
    return {"host": host, "tools": len(tools), "queues": queues}
