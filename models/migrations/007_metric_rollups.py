"""Hourly metric roll-ups (models.metrics.MetricRollup): what retention keeps of samples older than
monitoring.raw_keep_hours, read with the samples by /api/v1/monitoring/metrics."""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class MetricRollup(pw.Model):
        id = pw.AutoField()
        source = pw.CharField(max_length=16)
        tool_id = pw.IntegerField(null=True)
        hour = pw.DateTimeField(index=True)
        samples = pw.IntegerField()
        data = pw.TextField()
        maxima = pw.TextField()
        partial = pw.TextField(null=True)

        class Meta:
            table_name = "metric_rollup"
            indexes = ((("source", "hour", "tool_id"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("metric_rollup")
