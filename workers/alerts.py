"""The alert_evaluate job: every enabled rule (models.alerts) against the latest metric samples.

For each subject a rule sees (a host, a tool, a queue) the condition is *breached* when the newest value
crosses the threshold, and the alert *fires* once it has been breached for the rule's duration (the run
of breaching samples goes back that far). A subject has at most one firing alert per rule: it fires once
and resolves when the newest value no longer crosses the threshold (or the subject is gone). Each firing
and resolving is handed to a notify_alert job (workers.notify), so evaluation never waits for a webhook.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs import live_events
from jobs.job import Job
from jobs.keys import key
from models import Alert, AlertRule, MetricSample, Tool, db, utcnow
from models.alerts import ensure_default_rules
from workers.runtime import WorkerRuntime

log = logging.getLogger("mcps.alerts")
EVALUATION_LOCK_MS = 60_000
SAMPLES_BEHIND = 3  # the window also covers this many sampling intervals before the duration


@dataclass(frozen=True)
class Observation:
    value: float
    breached: bool
    since: datetime  # the oldest sample of the run of breaching samples ending with the newest


def metric_series(rule: AlertRule, since: datetime) -> dict[str, list[tuple[datetime, float]]]:
    """subject -> [(sampled at, value)], newest first, for a metric read from the samples."""
    source, field = rule.metric.split(".", 1)
    series: dict[str, list[tuple[datetime, float]]] = {}
    rows = (MetricSample.select(MetricSample.created_at, MetricSample.data, MetricSample.tool_id)
            .where((MetricSample.source == ("queues" if source == "queue" else source))
                   & (MetricSample.created_at >= since))
            .order_by(MetricSample.created_at.desc()))
    for row in rows:
        data = row.data or {}
        if source == "host":
            points = {f"host:{data.get('host', '?')}": data.get(field)}
        elif source == "tool":
            points = {f"tool:{row.tool_id}": data.get(field)}
        else:  # queue.depth: one subject per queue
            points = {f"queue:{name}": depth for name, depth in data.items()}
        for subject, value in points.items():
            if isinstance(value, (int, float)):
                series.setdefault(subject, []).append((row.created_at, float(value)))
    return series


def observe_series(rule: AlertRule, points: list[tuple[datetime, float]]) -> Observation:
    newest_at, newest = points[0]
    since = newest_at
    for sampled_at, value in points:
        if not rule.breached(value):
            break
        since = sampled_at
    return Observation(newest, rule.breached(newest), since)


def observe(rule: AlertRule, now: datetime, interval_s: float) -> dict[str, Observation]:
    if rule.metric == "tool.error":  # the tools' own status, not a sample: in ERROR since its last change
        return {f"tool:{tool.id}": Observation(float(tool.status == "ERROR"), rule.breached(float(tool.status == "ERROR")),
                                               tool.updated_at or now)
                for tool in Tool.select(Tool.id, Tool.status, Tool.updated_at)}
    since = now - timedelta(seconds=rule.duration_s + SAMPLES_BEHIND * interval_s)
    return {subject: observe_series(rule, points) for subject, points in metric_series(rule, since).items()}


def describe(rule: AlertRule, subject: str, observation: Observation) -> str:
    held = f" for {rule.duration_s} s" if rule.duration_s else ""
    return (f"{rule.name}: {rule.metric} is {observation.value:g} on {subject} "
            f"({rule.operator} {rule.threshold:g}{held})")


def evaluate_rule(rule: AlertRule, now: datetime, interval_s: float) -> tuple[list[Alert], list[Alert]]:
    """(alerts fired, alerts resolved) by one rule."""
    observations = observe(rule, now, interval_s) if rule.enabled else {}
    open_alerts = {alert.subject: alert for alert in
                   Alert.select().where((Alert.rule_id == rule.id) & (Alert.status == "firing"))}
    fired, resolved = [], []
    for subject, seen in observations.items():
        held_long_enough = (now - seen.since).total_seconds() >= rule.duration_s
        if seen.breached and held_long_enough and subject not in open_alerts:
            fired.append(Alert.create(rule_id=rule.id, rule_name=rule.name, subject=subject, severity=rule.severity,
                                      message=describe(rule, subject, seen), value=seen.value, fired_at=now))
    for subject, alert in open_alerts.items():
        seen = observations.get(subject)
        gone = seen is None and (not rule.enabled or not rule.metric.startswith("host."))  # no host sample: unknown
        if gone or (seen is not None and not seen.breached):
            Alert.update(status="resolved", resolved_at=now, value=seen.value if seen else alert.value).where(
                Alert.id == alert.id).execute()
            resolved.append(alert)
    return fired, resolved


def evaluate_alerts(job: Job, runtime: WorkerRuntime) -> dict:
    settings = runtime.settings
    lock = key(settings, "alerts", "evaluating")
    if not runtime.redis.set(lock, runtime.id, nx=True, px=EVALUATION_LOCK_MS):
        return {"skipped": "another evaluation is running"}
    try:
        ensure_default_rules(settings)
        now = utcnow()
        fired, resolved = [], []
        for rule in AlertRule.select().order_by(AlertRule.id):
            with db.atomic():
                rule_fired, rule_resolved = evaluate_rule(rule, now, settings.monitoring.interval_s)
            fired += rule_fired
            resolved += rule_resolved
    finally:
        runtime.redis.delete(lock)
    for alert, event in [(a, "fired") for a in fired] + [(a, "resolved") for a in resolved]:
        log.warning("event=alert.%s alert=%s rule=%s subject=%s", event, alert.id, alert.rule_name, alert.subject)
        runtime.bookkeeper.tell(*live_events.alert_event(alert, event))
        runtime.jobs.submit(Job(kind="notify_alert", args={"alert_id": alert.id, "event": event}))
    return {"fired": [a.id for a in fired], "resolved": [a.id for a in resolved]}
