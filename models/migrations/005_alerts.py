"""Alerts (models.alerts): rules, alerts, webhook targets, notification deliveries; and the settings
changed at run time (models.runtime_settings)."""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class AlertRule(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=64, unique=True)
        metric = pw.CharField(max_length=32)
        operator = pw.CharField(max_length=2, default=">")
        threshold = pw.FloatField()
        duration_s = pw.IntegerField(default=0)
        severity = pw.CharField(max_length=16, default="warning")
        enabled = pw.BooleanField(default=True)
        config_key = pw.CharField(max_length=64, null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "alert_rule"

    @migrator.create_model
    class Alert(pw.Model):
        id = pw.AutoField()
        rule_id = pw.IntegerField(index=True, null=True)
        rule_name = pw.CharField(max_length=64, default="")
        subject = pw.CharField(max_length=128, default="")
        status = pw.CharField(max_length=16, default="firing", index=True)
        severity = pw.CharField(max_length=16, default="warning")
        message = pw.TextField(default="")
        value = pw.FloatField(null=True)
        fired_at = pw.DateTimeField(index=True)
        resolved_at = pw.DateTimeField(null=True)
        acknowledged_at = pw.DateTimeField(null=True)
        acknowledged_by = pw.IntegerField(null=True)
        created_by = pw.IntegerField(null=True)

        class Meta:
            table_name = "alert"

    @migrator.create_model
    class WebhookTarget(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=64, unique=True)
        url = pw.TextField()
        secret = pw.TextField()
        enabled = pw.BooleanField(default=True)
        created_by = pw.IntegerField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "webhook_target"

    @migrator.create_model
    class NotificationDelivery(pw.Model):
        id = pw.AutoField()
        alert_id = pw.IntegerField(index=True)
        event = pw.CharField(max_length=16)
        channel = pw.CharField(max_length=16)
        target = pw.TextField()
        webhook_id = pw.IntegerField(null=True)
        status = pw.CharField(max_length=16, default="pending", index=True)
        attempts = pw.IntegerField(default=0)
        response_status = pw.IntegerField(null=True)
        error = pw.TextField(null=True)
        attempt_log = pw.TextField(default="[]")
        created_at = pw.DateTimeField(index=True)
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "notification_delivery"

    @migrator.create_model
    class RuntimeSetting(pw.Model):
        name = pw.CharField(max_length=100, primary_key=True)
        value = pw.TextField()
        updated_by = pw.IntegerField(null=True)
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "runtime_setting"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table in ("runtime_setting", "notification_delivery", "webhook_target", "alert", "alert_rule"):
        migrator.remove_model(table)
