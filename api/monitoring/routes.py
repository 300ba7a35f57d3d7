"""/api/v1/monitoring/{metrics,dashboard} (the seed's paths). /monitoring/alerts belongs to the alerts module."""
from __future__ import annotations

from datetime import timedelta

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import require_role, tool_ids_in_scope, tool_in_scope
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import get_settings
from api.monitoring.dashboard import call_figures, host_load, open_alerts, tools_by_status
from api.monitoring.series import series
from api.schemas import UTCDateTime
from models import utcnow
from models.metrics import SOURCES

blp = Blueprint("monitoring", __name__, url_prefix="/monitoring", description="Metric time series and the dashboard")
MAX_POINTS = 5000
MAX_RANGE = timedelta(days=31)


class SeriesArgs(Schema):
    source = fields.String(load_default="host", validate=validate.OneOf(SOURCES),
                           metadata={"description": "host, tool (give tool_id), queues or jobs"})
    tool_id = fields.Integer(validate=validate.Range(min=1))
    since = UTCDateTime(metadata={"description": "Default: an hour before until."})
    until = UTCDateTime(metadata={"description": "Default: now."})
    step = fields.Integer(validate=validate.Range(min=1, max=86400),
                          metadata={"description": "Seconds per point (averaged); default: the sampling interval."})

    @validates_schema
    def _tool_samples_name_a_tool(self, data, **_kwargs):
        if data.get("source") == "tool" and "tool_id" not in data:
            raise ValidationError("the tool source needs a tool_id", "tool_id")


class DashboardArgs(Schema):
    minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=24 * 60),
                             metadata={"description": "The window of the call figures."})
    top = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


@blp.route("/metrics")
class MetricSeries(MethodView):
    @require_role("viewer")
    @blp.response(200, description="The series: source, tool_id, since, until, step_s, points")  # documented: a 200 is not read as an error
    @blp.arguments(SeriesArgs, location="query")
    def get(self, args):
        """A metric time series from the sampler (host, a tool, queues, job rates), averaged per step"""
        until = args.get("until") or utcnow()
        since = args.get("since") or until - timedelta(hours=1)
        step = args.get("step") or get_settings().monitoring.interval_s
        if since >= until or until - since > MAX_RANGE:
            abort(422, message="since must be before until, at most 31 days apart", errors={"since": ["out of range"]})
        if (until - since).total_seconds() / step > MAX_POINTS:
            abort(422, message=f"more than {MAX_POINTS} points: take a larger step", errors={"step": ["too small"]})
        tool_id = args.get("tool_id")
        if tool_id is not None and not tool_in_scope(tool_id):
            abort(404, message=f"no tool {tool_id}")
        if args["source"] != "tool" and tool_ids_in_scope() is not None:
            abort(403, message="platform-wide metrics are not for an API key scoped to some tools")
        return {"source": args["source"], "tool_id": tool_id, "since": since.isoformat() + "+00:00",
                "until": until.isoformat() + "+00:00", "step_s": step,
                "points": series(args["source"], since, until, step, tool_id)}


@blp.route("/dashboard")
class Dashboard(MethodView):
    @require_role("viewer")
    @blp.response(200, description="The overview figures")  # documented: a 200 is not read as an error
    @blp.arguments(DashboardArgs, location="query")
    def get(self, args):
        """What an overview page needs in one call: tools by status, calls/min, error rate, p50/p95, top tools,
        host load and open alerts (the tools a scoped API key may see)"""
        scope = tool_ids_in_scope()
        return {"generated_at": utcnow().isoformat() + "+00:00", "tools": tools_by_status(scope),
                **call_figures(args["minutes"], scope, args["top"]),
                "host": host_load() if scope is None else None, "alerts": open_alerts() if scope is None else []}
