"""Alerts: the rules that raise them, the alerts themselves, where they are sent and each delivery.

A rule watches one metric (`METRICS` names what it reads) against a threshold for a duration; each
subject it sees (the host, a tool, a queue) has at most one firing alert per rule, resolved when the
condition no longer holds. The default rules carry config's `monitoring.*_alert_percent` (see
`ensure_default_rules`). Webhook secrets are encrypted at rest like tool secrets (models.crypto).
"""
from __future__ import annotations

import peewee

from config import Section
from models.base import BaseModel, JSONField, db, utcnow
from models.crypto import EncryptedJSONField

# metric -> what it reads: a field of the host or tool samples, the queue depths, or the tools' status.
METRICS = {
    "host.cpu_percent": "host CPU use, percent",
    "host.memory_percent": "host memory use, percent",
    "host.disk_percent": "disk use of the data directory's file system, percent",
    "host.load_1": "host load average over one minute",
    "tool.memory_mb": "a tool's process tree resident memory, MB",
    "tool.cpu_percent": "a tool's process tree CPU use, percent",
    "tool.error": "a tool in status ERROR (1 while it is, compare with >= 1)",
    "queue.depth": "jobs waiting in one queue",
}
OPERATORS = (">", ">=", "<", "<=")
SEVERITIES = ("info", "warning", "critical")
ALERT_STATUSES = ("firing", "resolved")
CHANNELS = ("webhook", "email")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class AlertRule(BaseModel):
    name = peewee.CharField(max_length=64, unique=True)
    metric = peewee.CharField(max_length=32)
    operator = peewee.CharField(max_length=2, default=">")
    threshold = peewee.FloatField()
    duration_s = peewee.IntegerField(default=0)  # the condition must hold this long before the alert fires
    severity = peewee.CharField(max_length=16, default="warning")
    enabled = peewee.BooleanField(default=True)
    # A default rule keeps following its config key until an admin sets its threshold.
    config_key = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    def breached(self, value: float) -> bool:
        return {">": value > self.threshold, ">=": value >= self.threshold,
                "<": value < self.threshold, "<=": value <= self.threshold}[self.operator]


class Alert(BaseModel):
    rule_id = peewee.IntegerField(null=True, index=True)  # null: raised by hand (POST /monitoring/alerts)
    rule_name = peewee.CharField(max_length=64, default="")
    subject = peewee.CharField(max_length=128, default="")  # "host", "tool:3", "queue:lifecycle", ...
    status = peewee.CharField(max_length=16, default="firing", index=True)
    severity = peewee.CharField(max_length=16, default="warning")
    message = peewee.TextField(default="")
    value = peewee.FloatField(null=True)
    fired_at = peewee.DateTimeField(default=utcnow, index=True)
    resolved_at = peewee.DateTimeField(null=True)
    acknowledged_at = peewee.DateTimeField(null=True)
    acknowledged_by = peewee.IntegerField(null=True)
    created_by = peewee.IntegerField(null=True)


class WebhookTarget(BaseModel):
    name = peewee.CharField(max_length=64, unique=True)
    url = peewee.TextField()
    secret = EncryptedJSONField()  # the HMAC key of X-Mcps-Signature
    enabled = peewee.BooleanField(default=True)
    created_by = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class NotificationDelivery(BaseModel):
    alert_id = peewee.IntegerField(index=True)
    event = peewee.CharField(max_length=16)  # fired | resolved
    channel = peewee.CharField(max_length=16)
    target = peewee.TextField()  # the URL or the mail addresses
    webhook_id = peewee.IntegerField(null=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)
    attempts = peewee.IntegerField(default=0)
    response_status = peewee.IntegerField(null=True)
    error = peewee.TextField(null=True)
    attempt_log = JSONField(default=list)  # [{at, ok, status, error, ms}] of each attempt
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    finished_at = peewee.DateTimeField(null=True)


def default_rules(settings: Section) -> list[dict]:
    monitoring = settings.monitoring
    return [
        {"name": "host_cpu", "metric": "host.cpu_percent", "threshold": monitoring.cpu_alert_percent,
         "duration_s": 300, "severity": "warning", "config_key": "monitoring.cpu_alert_percent"},
        {"name": "host_memory", "metric": "host.memory_percent", "threshold": monitoring.memory_alert_percent,
         "duration_s": 300, "severity": "warning", "config_key": "monitoring.memory_alert_percent"},
        {"name": "host_disk", "metric": "host.disk_percent", "threshold": monitoring.disk_alert_percent,
         "duration_s": 0, "severity": "critical", "config_key": "monitoring.disk_alert_percent"},
        {"name": "tool_error", "metric": "tool.error", "operator": ">=", "threshold": 1, "duration_s": 0,
         "severity": "critical"},
        {"name": "queue_depth", "metric": "queue.depth", "threshold": 100, "duration_s": 300, "severity": "warning"},
    ]


def ensure_default_rules(settings: Section) -> None:
    """Create the default rules that are missing, and move the thresholds of those still following
    their config key to its current value (a rule an admin deleted comes back: disable it instead)."""
    with db.atomic():
        existing = {rule.name: rule for rule in AlertRule.select()}
        for rule in default_rules(settings):
            current = existing.get(rule["name"])
            if current is None:
                AlertRule.create(**rule)
            elif current.config_key and current.threshold != rule["threshold"]:
                AlertRule.update(threshold=rule["threshold"], updated_at=utcnow()).where(
                    AlertRule.id == current.id).execute()
