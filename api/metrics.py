"""GET /metrics: the platform in Prometheus' text format (prometheus-client).

One scrape of any API process tells the whole platform: the counters live in Redis (jobs.telemetry
says why: several gunicorn and Dramatiq processes, possibly on several hosts, restarted at will), and
the gauges are read at scrape time from Redis (queue depths, proxy sessions) and the database (tools by
status). Nothing is kept per process, so there is no multiprocess directory to manage.

Protected: with `monitoring.metrics_token` set, a scraper sends `Authorization: Bearer <token>`;
without it only admins (a login or an admin's API key) may read it.
"""
from __future__ import annotations

import hmac

import peewee

from flask import Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.auth import authenticate, has_role
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.mcp_proxy.control import count_handshake_sessions, live_processes
from jobs import telemetry
from models import Tool
from models.tools import STATUSES

HTTP_COUNTERS_KEY = "mcps.http_counters"


class PlatformCollector:
    def __init__(self, client, settings):
        self.client, self.settings = client, settings

    def collect(self):
        read = lambda name: telemetry.read(self.client, self.settings, name)  # noqa: E731
        names = dict(Tool.select(Tool.id, Tool.name).tuples())

        calls = CounterMetricFamily("mcps_tool_calls", "Tool calls finished, by tool and outcome",
                                    labels=["tool_id", "tool", "status"])
        for field, value in sorted(read("calls").items()):
            tool_id, status = field.split("|")
            calls.add_metric([tool_id, names.get(int(tool_id), "") if tool_id else "", status], value)
        yield calls

        latency = HistogramMetricFamily("mcps_tool_call_duration_seconds", "Tool call durations in the worker",
                                        labels=["tool_id", "tool"])
        per_tool: dict[str, dict] = {}
        for field, value in read("call_latency").items():
            tool_id, le = field.split("|")
            per_tool.setdefault(tool_id, {})[le] = value
        for tool_id, fields in sorted(per_tool.items()):
            buckets = [(str(le), fields.get(str(le), 0.0)) for le in telemetry.LATENCY_BUCKETS_S]
            buckets.append(("+Inf", fields.get("+Inf", 0.0)))
            latency.add_metric([tool_id, names.get(int(tool_id), "") if tool_id else ""], buckets,
                               sum_value=fields.get("sum", 0.0))
        yield latency

        jobs = CounterMetricFamily("mcps_jobs", "Jobs finished, by kind and outcome", labels=["kind", "status"])
        for field, value in sorted(read("jobs").items()):
            jobs.add_metric(field.split("|"), value)
        yield jobs
        job_seconds = CounterMetricFamily("mcps_job_duration_seconds", "Time spent running jobs, by kind",
                                          labels=["kind"])
        for kind, value in sorted(read("job_seconds").items()):
            job_seconds.add_metric([kind], value)
        yield job_seconds

        http = CounterMetricFamily("mcps_http_requests", "API requests answered, by method, route and status",
                                   labels=["method", "route", "status"])
        for field, value in sorted(read("http").items()):
            http.add_metric(field.split("|", 2), value)
        yield http

        depth = GaugeMetricFamily("mcps_job_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        for queue, length in sorted(telemetry.queue_depths(self.client, self.settings).items()):
            depth.add_metric([queue], length)
        yield depth

        tools = GaugeMetricFamily("mcps_tools", "Tools by status", labels=["status"])
        counts = dict(Tool.select(Tool.status, peewee.fn.COUNT(Tool.id)).group_by(Tool.status).tuples())
        for status in STATUSES:
            tools.add_metric([status], counts.get(status, 0))
        yield tools

        sessions = GaugeMetricFamily("mcps_proxy_sessions", "Open MCP front door sessions, by transport",
                                     labels=["transport"])
        sessions.add_metric(["handshake"], count_handshake_sessions(self.client, self.settings))
        sessions.add_metric(["legacy_sse"], sum(p["sse_streams"] for p in live_processes(self.client, self.settings)))
        yield sessions


def _authorized() -> None:
    token = get_settings().monitoring.metrics_token
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return
    caller = authenticate()  # 401 without credentials
    if not has_role(caller.user, "admin"):
        abort(403, message="metrics are for admins (or a scraper with monitoring.metrics_token)")


def metrics_view() -> Response:
    _authorized()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(get_redis(), get_settings()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def count_request(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    current_app.extensions[HTTP_COUNTERS_KEY].add(f"{request.method}|{route}|{response.status_code}")
    return response


def init_metrics(app: Flask) -> None:
    app.extensions[HTTP_COUNTERS_KEY] = telemetry.BufferedCounters(app.extensions["mcps.redis"],
                                                                   app.extensions["mcps.settings"], "http")
    app.add_url_rule("/metrics", "metrics", metrics_view)
    app.after_request(count_request)
