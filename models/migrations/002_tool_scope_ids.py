"""API keys' tool_scope holds tool ids instead of tool names.

Scoped by name, renaming tool B to the name of tool A handed every key scoped to A the tool B (with
its secrets). Names that no longer name a tool are dropped: the key can reach fewer tools, never more.
"""
import json

import peewee as pw
from peewee_migrate import Migrator


def _convert(database: pw.Database, to_ids: bool) -> None:
    tools = database.execute_sql("SELECT id, name FROM tool").fetchall()
    id_by_name = {name: tool_id for tool_id, name in tools}
    name_by_id = {tool_id: name for tool_id, name in tools}
    keys = database.execute_sql("SELECT id, tool_scope FROM api_key WHERE tool_scope IS NOT NULL").fetchall()
    update = f"UPDATE api_key SET tool_scope = {database.param} WHERE id = {database.param}"
    for key_id, raw in keys:
        scope = json.loads(raw)
        if to_ids:
            converted = sorted({id_by_name[ref] for ref in scope if isinstance(ref, str) and ref in id_by_name}
                               | {ref for ref in scope if isinstance(ref, int) and ref in name_by_id})
        else:
            converted = sorted({name_by_id[ref] for ref in scope if isinstance(ref, int) and ref in name_by_id})
        database.execute_sql(update, (json.dumps(converted, separators=(",", ":")), key_id))


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.run(_convert, database, True)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.run(_convert, database, False)
