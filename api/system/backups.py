"""/api/v1/system/backups (admins): list, take now, download, delete and restore database backups.

Taking and restoring run as maintenance jobs on a worker (models.dumps); listing, downloading and
deleting read the backup directory here. A name from the URL is used only once models.backups has
matched it against the backup name pattern and found the file in the backup directory.
"""
from __future__ import annotations

from flask import send_file
from flask.views import MethodView
from marshmallow import Schema, fields

from api.auth import require_role
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import get_settings
from api.schemas import UTCDateTime
from api.system.maintenance import WaitArgs, run_now
from api.tasks.schemas import AcceptedSchema, TaskSchema
from models.backups import NoSuchBackup, backup_dir, backup_path, delete_backup, list_backups

blp = Blueprint("backups", __name__, url_prefix="/system/backups", description="Database backups")


class BackupSchema(Schema):
    name = fields.String()
    created_at = UTCDateTime()
    engine = fields.String(metadata={"description": "sqlite | postgresql"})
    compressed = fields.Boolean()
    size_bytes = fields.Integer()


class BackupListSchema(Schema):
    items = fields.List(fields.Nested(BackupSchema))
    directory = fields.String()


def existing(name: str):
    try:
        return backup_path(get_settings(), name)
    except NoSuchBackup:
        abort(404, message=f"no backup {name}")


@blp.route("")
class Backups(MethodView):
    @require_role("admin")
    @blp.response(200, BackupListSchema)
    def get(self):
        """List the backups, newest first"""
        return {"items": [backup.as_dict() for backup in list_backups(get_settings())],
                "directory": str(backup_dir(get_settings()))}

    @require_role("admin")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task (its result names the file)")
    def post(self, args):
        """Take a backup now (a job on a worker; old backups are pruned after it)"""
        return run_now("backup", "backup", args)


@blp.route("/<name>")
class BackupByName(MethodView):
    @require_role("admin")
    @blp.response(200, description="The backup file")
    def get(self, name):
        """Download a backup"""
        backup = existing(name)
        return send_file(backup.path, as_attachment=True, download_name=backup.name,
                         mimetype="application/gzip" if backup.compressed else "application/octet-stream")

    @require_role("admin")
    @blp.response(204)
    def delete(self, name):
        """Delete a backup"""
        try:
            delete_backup(get_settings(), name)
        except (NoSuchBackup, FileNotFoundError):
            abort(404, message=f"no backup {name}")


@blp.route("/<name>/restore")
class RestoreBackup(MethodView):
    @require_role("admin")
    @blp.arguments(WaitArgs, location="query")
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(200, schema=TaskSchema, description="With wait=true: the finished task")
    def post(self, args, name):
        """Replace the database's content with a backup (one transaction; the platform keeps serving)"""
        existing(name)
        return run_now("restore", "restore", args, {"name": name})
