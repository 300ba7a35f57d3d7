"""Metric samples (models.metrics): written by the metric_sample job, deleted by retention."""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class MetricSample(pw.Model):
        id = pw.AutoField()
        source = pw.CharField(index=True, max_length=16)
        tool_id = pw.IntegerField(index=True, null=True)
        data = pw.TextField()
        created_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "metric_sample"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("metric_sample")
