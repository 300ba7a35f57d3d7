"""Peewee migrations -- 001_initial.py.

Some examples (model - class or model name)::

    > Model = migrator.orm['table_name']            # Return model in current state by name
    > Model = migrator.ModelClass                   # Return model in current state by name

    > migrator.sql(sql)                             # Run custom SQL
    > migrator.run(func, *args, **kwargs)           # Run python function with the given args
    > migrator.create_model(Model)                  # Create a model (could be used as decorator)
    > migrator.remove_model(model, cascade=True)    # Remove a model
    > migrator.add_fields(model, **fields)          # Add fields (allow_not_null=True skips default)
    > migrator.change_fields(model, **fields)       # Change fields
    > migrator.remove_fields(model, *field_names, cascade=True)
    > migrator.rename_field(model, old_field_name, new_field_name)
    > migrator.rename_table(model, new_table_name)
    > migrator.add_index(model, *col_names, unique=False)
    > migrator.add_not_null(model, *field_names)
    > migrator.add_default(model, field_name, default)
    > migrator.add_constraint(model, name, sql)
    > migrator.drop_index(model, *col_names)
    > migrator.drop_not_null(model, *field_names)
    > migrator.drop_constraints(model, *constraints)

"""

from contextlib import suppress

import peewee as pw
from peewee_migrate import Migrator


with suppress(ImportError):
    import playhouse.postgres_ext as pw_pext


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Write your migrations here."""
    
    @migrator.create_model
    class User(pw.Model):
        id = pw.AutoField()
        username = pw.CharField(max_length=64, unique=True)
        email = pw.CharField(max_length=255, null=True)
        password_hash = pw.CharField(max_length=255)
        role = pw.CharField(default='viewer', max_length=16)
        is_active = pw.BooleanField(default=True)
        failed_logins = pw.IntegerField(default=0)
        locked_until = pw.DateTimeField(null=True)
        last_login_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "user"

    @migrator.create_model
    class ApiKey(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], on_delete='CASCADE')
        name = pw.CharField(max_length=100)
        prefix = pw.CharField(index=True, max_length=16)
        key_hash = pw.CharField(max_length=64, unique=True)
        tool_scope = pw.TextField(null=True)
        created_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(null=True)
        last_used_at = pw.DateTimeField(null=True)
        revoked_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "api_key"

    @migrator.create_model
    class LogEntry(pw.Model):
        id = pw.AutoField()
        category = pw.CharField(index=True, max_length=16)
        level = pw.CharField(default='INFO', max_length=8)
        tool_id = pw.IntegerField(index=True, null=True)
        task_id = pw.CharField(max_length=32, null=True)
        user_id = pw.IntegerField(null=True)
        source = pw.CharField(default='', max_length=32)
        message = pw.TextField()
        data = pw.TextField(null=True)
        created_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "log_entry"

    @migrator.create_model
    class Session(pw.Model):
        id = pw.AutoField()
        user_id = pw.IntegerField(index=True)
        name = pw.CharField(default='', max_length=200)
        description = pw.TextField(default='')
        is_auto = pw.BooleanField(default=False)
        metadata = pw.TextField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        last_activity_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "session"

    @migrator.create_model
    class Message(pw.Model):
        id = pw.AutoField()
        session = pw.ForeignKeyField(column_name='session_id', field='id', model=migrator.orm['session'], on_delete='CASCADE')
        user_id = pw.IntegerField(null=True)
        tool_id = pw.IntegerField(null=True)
        tool_name = pw.CharField(default='', max_length=200)
        arguments = pw.TextField(null=True)
        result_summary = pw.TextField(null=True)
        status = pw.CharField(max_length=16)
        is_error = pw.BooleanField(default=False)
        duration_ms = pw.FloatField(null=True)
        task_id = pw.CharField(max_length=32, null=True)
        created_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "message"

    @migrator.create_model
    class Task(pw.Model):
        id = pw.CharField(max_length=32, primary_key=True)
        kind = pw.CharField(index=True, max_length=32)
        name = pw.CharField(default='', max_length=200)
        tool_id = pw.IntegerField(index=True, null=True)
        user_id = pw.IntegerField(index=True, null=True)
        session_id = pw.IntegerField(null=True)
        parent_id = pw.CharField(index=True, max_length=32, null=True)
        status = pw.CharField(default='queued', index=True, max_length=16)
        args = pw.TextField(null=True)
        result = pw.TextField(null=True)
        error = pw.TextField(null=True)
        error_type = pw.CharField(max_length=32, null=True)
        worker_id = pw.CharField(max_length=64, null=True)
        definition = pw.TextField(null=True)
        schedule = pw.CharField(max_length=100, null=True)
        created_at = pw.DateTimeField(index=True)
        started_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)
        duration_ms = pw.FloatField(null=True)

        class Meta:
            table_name = "task"

    @migrator.create_model
    class Tool(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=64, unique=True)
        display_name = pw.CharField(default='', max_length=200)
        description = pw.TextField(default='')
        category = pw.CharField(default='', max_length=64)
        tags = pw.TextField()
        transport = pw.CharField(max_length=32)
        command = pw.TextField(null=True)
        args = pw.TextField()
        env = pw.TextField(null=True)
        cwd = pw.TextField(null=True)
        url = pw.TextField(null=True)
        headers = pw.TextField(null=True)
        auto_start = pw.BooleanField(default=False)
        restart_on_failure = pw.BooleanField(default=True)
        max_restart_attempts = pw.IntegerField(default=5)
        call_timeout_s = pw.FloatField(default=60.0)
        memory_limit_mb = pw.IntegerField(null=True)
        cpu_limit_percent = pw.IntegerField(null=True)
        desired_state = pw.CharField(default='stopped', max_length=16)
        status = pw.CharField(default='STOPPED', max_length=16)
        pid = pw.IntegerField(null=True)
        restart_count = pw.IntegerField(default=0)
        last_error = pw.TextField(null=True)
        started_at = pw.DateTimeField(null=True)
        owner_worker = pw.CharField(max_length=64, null=True)
        protocol_version = pw.CharField(max_length=32, null=True)
        server_info = pw.TextField(null=True)
        capabilities = pw.TextField(null=True)
        instructions = pw.TextField(null=True)
        mcp_tools = pw.TextField()
        mcp_resources = pw.TextField()
        mcp_prompts = pw.TextField()
        created_by = pw.IntegerField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "tool"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Write your rollback migrations here."""
    
    migrator.remove_model('tool')

    migrator.remove_model('task')

    migrator.remove_model('message')

    migrator.remove_model('session')

    migrator.remove_model('log_entry')

    migrator.remove_model('api_key')

    migrator.remove_model('user')
