"""/api/v1/system/{status,metrics,processes}: the platform's processes and their latest measurements.

`status` tells every process with the age of its last heartbeat; `metrics` returns the latest samples
of the metric_sample job (workers.metrics); `processes` is psutil's view of our processes on this host
(the API's), with the workers' own heartbeat figures for processes elsewhere.
"""
from __future__ import annotations

import json
import os
import socket
import time
from datetime import timedelta

import psutil
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api import VERSION
from api.auth import require_role
from api.bodies import Blueprint
from api.extensions import get_redis, get_settings
from models import MetricRollup, MetricSample, Tool, utcnow
from jobs import registry
from jobs.keys import live_key, worker_key
from scheduler.jobs import heartbeat_key
from scheduler.leader import current_leader

blp = Blueprint("system_runtime", __name__, url_prefix="/system", description="Processes and metrics")
PROXY_CONNECT_TIMEOUT_S = 0.2


class MetricsArgs(Schema):
    minutes = fields.Integer(load_default=0, validate=validate.Range(min=0, max=7 * 24 * 60),
                             metadata={"description": "Also return the host samples of the last N minutes."})


def worker_heartbeats() -> list[dict]:
    settings, client = get_settings(), get_redis()
    workers = registry.live_workers(client, settings)
    pipe = client.pipeline(transaction=False)
    for worker in workers:
        pipe.pttl(worker_key(settings, worker["id"]))
    ttl_ms = settings.mcp.worker.lease_ttl_ms
    return [{"kind": "worker", "id": worker["id"], "pid": worker["pid"], "host": worker["host"],
             "queue": worker.get("queue"), "tools": worker.get("tools", []),
             "started_at": worker.get("started_at"), "version": worker.get("version"),
             "heartbeat_age_s": round(max(ttl_ms - remaining, 0) / 1000, 3) if remaining > 0 else None}
            for worker, remaining in zip(workers, pipe.execute())]


def scheduler_status() -> dict:
    settings, client = get_settings(), get_redis()
    beat = client.get(heartbeat_key(settings))
    beat = json.loads(beat) if beat else {}
    return {"kind": "scheduler", "id": current_leader(client, settings), "pid": beat.get("pid"),
            "host": beat.get("host"), "heartbeat_age_s": round(time.time() - beat["at"], 3) if beat else None,
            "heartbeat_period_s": settings.scheduler.heartbeat_s}


def proxy_status() -> dict:
    """The proxy keeps no heartbeat: whether its configured address accepts connections."""
    proxy = get_settings().mcp.proxy
    try:
        socket.create_connection((proxy.host, proxy.port), timeout=PROXY_CONNECT_TIMEOUT_S).close()
        listening = True
    except OSError:
        listening = False
    return {"kind": "proxy", "address": f"{proxy.host}:{proxy.port}", "listening": listening}


@blp.route("/status")
class Status(MethodView):
    @require_role("viewer")
    @blp.response(200, description="The processes and their heartbeats")  # documented: a 200 is not read as an error
    def get(self):
        """Every process of the platform: web, workers, scheduler, proxy, with their heartbeat age"""
        workers = worker_heartbeats()
        scheduler = scheduler_status()
        web = {"kind": "web", "pid": os.getpid(), "host": socket.gethostname(), "version": VERSION,
               "heartbeat_age_s": 0.0}
        healthy = bool(workers) and scheduler["heartbeat_age_s"] is not None
        return {"status": "ok" if healthy else "degraded", "version": VERSION,
                "processes": {"web": web, "workers": workers, "scheduler": scheduler, "proxy": proxy_status()}}


def latest(source: str) -> MetricSample | None:
    return MetricSample.select().where(MetricSample.source == source).order_by(MetricSample.id.desc()).first()


def host_history(since) -> list[dict]:
    """The host samples since then; hours already rolled up (models.rollups) come first, as one entry each
    with its number of samples, its averages and their maxima."""
    hours = [{"at": row.hour.isoformat() + "+00:00", "samples": row.samples, **row.data, "max": row.maxima}
             for row in MetricRollup.select().where((MetricRollup.source == "host") & (MetricRollup.hour >= since))
             .order_by(MetricRollup.hour)]
    return hours + [{"at": row.created_at.isoformat() + "+00:00", **row.data} for row in MetricSample.select()
                    .where((MetricSample.source == "host") & (MetricSample.created_at >= since)).order_by(MetricSample.id)]


@blp.route("/metrics")
class Metrics(MethodView):
    @require_role("viewer")
    @blp.response(200, description="The latest samples (history: with minutes)")  # documented: a 200 is not read as an error
    @blp.arguments(MetricsArgs, location="query")
    def get(self, args):
        """The latest metric samples: host, tool processes, queue depths, call rates and latencies"""
        host, queues, jobs = latest("host"), latest("queues"), latest("jobs")
        tools = []
        newest_tool = latest("tool")
        if newest_tool is not None:
            tools = [row.data for row in MetricSample.select().where(
                (MetricSample.source == "tool") & (MetricSample.created_at == newest_tool.created_at))]
        body = {"sampled_at": host.created_at.isoformat() + "+00:00" if host else None,
                "interval_s": get_settings().monitoring.interval_s,
                "host": host.data if host else None, "tools": tools,
                "queues": queues.data if queues else None, "jobs": jobs.data if jobs else None}
        if args["minutes"]:
            since = utcnow() - timedelta(minutes=args["minutes"])
            body["history"] = host_history(since)
        return body


def process_view(pid: int | None, role: str, **fields) -> dict:
    view = {"role": role, "pid": pid, **fields}
    if not pid:
        return view
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            cpu = process.cpu_times()
            view.update(running=process.status() != psutil.STATUS_ZOMBIE, rss_mb=round(process.memory_info().rss / 2**20, 1),
                        cpu_seconds=round(cpu.user + cpu.system, 2), threads=process.num_threads(),
                        open_files=process.num_fds(), uptime_s=round(time.time() - process.create_time(), 1))
    except psutil.Error:
        view["running"] = False
    return view


@blp.route("/processes")
class Processes(MethodView):
    @require_role("operator")
    @blp.response(200, description="The processes, as `items`")  # documented: a 200 is not read as an error
    def get(self):
        """Our processes and tool servers (psutil on this host; heartbeat figures for other hosts)"""
        here = socket.gethostname()
        settings, client = get_settings(), get_redis()
        items = [process_view(os.getpid(), "web", host=here)]
        for worker in worker_heartbeats():
            items.append(process_view(worker["pid"] if worker["host"] == here else None, "worker",
                                      host=worker["host"], id=worker["id"]))
        scheduler = scheduler_status()
        if scheduler["pid"]:
            items.append(process_view(scheduler["pid"] if scheduler["host"] == here else None, "scheduler",
                                      host=scheduler["host"], id=scheduler["id"]))
        running = list(Tool.select(Tool.id, Tool.name, Tool.owner_worker, Tool.pid).where(Tool.status == "RUNNING"))
        hosts = {worker["id"]: worker["host"] for worker in worker_heartbeats()}
        for tool, raw in zip(running, client.mget([live_key(settings, t.id) for t in running]) if running else []):
            live = json.loads(raw) if raw else {}  # its owner's last heartbeat (none yet just after start)
            owner, pid = live.get("worker") or tool.owner_worker, live.get("pid") or tool.pid
            view = process_view(pid if hosts.get(owner) == here else None, "tool", host=hosts.get(owner),
                                tool_id=tool.id, tool=tool.name, owner=owner)
            view.setdefault("rss_mb", live.get("memory_mb"))
            view.update(pid=pid, cpu_percent=live.get("cpu_percent"))
            items.append(view)
        return {"items": items}
