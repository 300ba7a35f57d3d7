"""The MCP front door's virtual servers and run-time settings (api/v1/proxy/config)."""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class VirtualServer(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=64, unique=True)
        description = pw.TextField(default="")
        members = pw.TextField(default="[]")
        created_by = pw.IntegerField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "virtual_server"

    @migrator.create_model
    class ProxySetting(pw.Model):
        name = pw.CharField(max_length=64, primary_key=True)
        value = pw.TextField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "proxy_setting"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("proxy_setting")
    migrator.remove_model("virtual_server")
