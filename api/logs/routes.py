"""/api/v1/logs (the seed's paths): list, read, search, stats, export; delete and clear (admins).

Every read goes through `visible_logs`: audit entries (kind operations) only for admins, a tool's
entries for whoever may see the tool, platform entries for every user but a tool-scoped API key.
Audit entries are never deleted through the API (retention removes them after logging.retention_days).
"""
from __future__ import annotations

from datetime import timedelta

from flask import Response, stream_with_context
from flask.views import MethodView
from marshmallow import Schema, fields

from api.auth import authenticate, require_role
from api.bodies import Blueprint
from api.errors import abort
from api.logs.export import MEDIA_TYPES, export_lines
from api.logs.queries import delete_matching, filtered, find_visible, visible_logs
from api.logs.schemas import (CleanupArgs, DeletedSchema, LogClearSchema, LogRecordSchema, LogExportArgs, LogListArgs,
                              LogSearchArgs, LogStatsArgs)
from api.logs.stats import log_stats
from api.pagination import page_schema, paginate
from api.schemas import UTCDateTime
from models import LogEntry, utcnow
from policy import access as policy

blp = Blueprint("logs", __name__, url_prefix="/logs", description="Platform, audit and tool logs")


def _listing(args: dict, kind: str | None = None):
    caller = authenticate()
    if kind is not None:
        args = {**args, "kind": kind}
    query = filtered(visible_logs(caller), args)
    order = LogEntry.id.asc() if args.get("order") == "asc" else LogEntry.id.desc()
    return paginate(query.order_by(order), args)


@blp.route("")
class Logs(MethodView):
    @require_role("viewer")
    @blp.arguments(LogListArgs, location="query")
    @blp.response(200, page_schema(LogRecordSchema))
    def get(self, args):
        """Log entries you may see, newest first, filtered by kind, level, tool, user, text and time"""
        return _listing(args)


def _kind_view(kind: str, role: str, summary: str):
    class KindLogs(MethodView):
        @require_role(role)
        @blp.arguments(LogListArgs, location="query")
        @blp.response(200, page_schema(LogRecordSchema))
        def get(self, args):
            return _listing(args, kind)

    KindLogs.get.__doc__ = summary
    KindLogs.__name__ = f"{kind.capitalize()}Logs"
    return KindLogs


blp.route("/system")(_kind_view("system", "viewer", "Platform events: process start/stop, leader changes, workers lost, backups"))
blp.route("/operations")(_kind_view("operations", "admin", "The audit trail: every write through the API (admins)"))
blp.route("/mcp")(_kind_view("mcp", "viewer", "Tool logs: stderr, lifecycle and health of the tools you may see"))


@blp.route("/search")
class SearchLogs(MethodView):
    @require_role("viewer")
    @blp.arguments(LogSearchArgs, location="query")
    @blp.response(200, page_schema(LogRecordSchema))
    def get(self, args):
        """Full-text search of messages (every word of q), with the list's filters"""
        return _listing(args)


class StatsPointSchema(Schema):
    at = fields.String()
    total = fields.Integer()
    by_level = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class ToolCountSchema(Schema):
    tool_id = fields.Integer()
    tool = fields.String(allow_none=True)
    count = fields.Integer()


class LogStatsSchema(Schema):
    since = UTCDateTime()
    until = UTCDateTime()
    bucket = fields.String()
    total = fields.Integer()
    by_level = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_tool = fields.List(fields.Nested(ToolCountSchema))
    series = fields.List(fields.Nested(StatsPointSchema))


@blp.route("/stats")
class LogStats(MethodView):
    @require_role("viewer")
    @blp.arguments(LogStatsArgs, location="query")
    @blp.response(200, LogStatsSchema)
    def get(self, args):
        """Counts by level, kind and tool, in total and per time bucket (default: the last 24 h by hour)"""
        return log_stats(filtered(visible_logs(authenticate()), {k: v for k, v in args.items()
                                                                 if k not in ("since", "until")}), args)


@blp.route("/export")
class ExportLogs(MethodView):
    @require_role("viewer")
    @blp.arguments(LogExportArgs, location="query")
    @blp.response(200, description="CSV or JSON lines, streamed (oldest first)")
    def get(self, args):
        """Export the entries you may see, with the list's filters, as CSV or JSON lines (streamed)"""
        query = filtered(visible_logs(authenticate()), args)
        fmt = args["format"]
        name = f"logs-{utcnow():%Y%m%dT%H%M%S}.{fmt}"
        return Response(stream_with_context(export_lines(query, fmt, args.get("limit"))), mimetype=MEDIA_TYPES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Accel-Buffering": "no"})


@blp.route("/clear")
class ClearLogs(MethodView):
    @require_role("admin")
    @blp.arguments(LogClearSchema)
    @blp.response(200, DeletedSchema)
    def post(self, body):
        """Delete the entries matching a filter (admins); audit entries are kept"""
        if body.get("kind") == policy.AUDIT_KIND:
            abort(403, message="the audit trail (operations) cannot be deleted through the API")
        return {"deleted": delete_matching(filtered(visible_logs(authenticate()), body))}


@blp.route("/cleanup")
class CleanupLogs(MethodView):
    @require_role("admin")
    @blp.arguments(CleanupArgs, location="query")
    @blp.response(200, DeletedSchema)
    def delete(self, args):
        """Delete the entries older than `days` days (admins); audit entries are kept"""
        before = utcnow() - timedelta(days=args["days"])
        return {"deleted": delete_matching(visible_logs(authenticate()).where(LogEntry.created_at < before))}


@blp.route("/<id:log_id>")
class LogDetail(MethodView):
    @require_role("viewer")
    @blp.response(200, LogRecordSchema)
    def get(self, log_id):
        """One log entry"""
        return find_visible(authenticate(), log_id)

    @require_role("admin")
    @blp.response(204)
    def delete(self, log_id):
        """Delete one entry (admins); an audit entry cannot be deleted (403)"""
        entry = find_visible(authenticate(), log_id)
        if entry.category == policy.AUDIT_KIND:
            abort(403, message="audit entries cannot be deleted through the API")
        LogEntry.delete().where(LogEntry.id == entry.id).execute()
