"""/api/v1/monitoring/alerts: the alerts raised by the rules (workers.alerts) or by hand, acknowledged
and resolved here; each firing and resolving is notified by a notify_alert job (workers.notify)."""
from __future__ import annotations

import logging

import redis

from flask.views import MethodView

from api.auth import current_user, require_role
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import get_redis, get_settings
from api.jobs import get_jobs
from api.monitoring.schemas import AlertInSchema, AlertListArgs, AlertSchema, DeliveryListSchema
from api.pagination import page_schema, paginate
from jobs import Job, live_events
from models import Alert, NotificationDelivery, utcnow

blp = Blueprint("alerts", __name__, url_prefix="/monitoring/alerts", description="Alerts and their notifications")
log = logging.getLogger("mcps.api.alerts")


def notify(alert: Alert, event: str) -> None:
    get_jobs().submit(Job(kind="notify_alert", user_id=current_user().id, args={"alert_id": alert.id, "event": event}))
    tell_live(alert, event)


def tell_live(alert: Alert, event: str) -> None:
    """The live `alert` event (jobs.live_events); best effort: the alert is stored and notified anyway."""
    try:
        live_events.publish(get_redis(), get_settings(), *live_events.alert_event(alert, event, current_user().id))
    except redis.RedisError as error:
        log.warning("event=live_event.publish_failed kind=alert alert=%s error=%r", alert.id, str(error))


def existing(alert_id: int) -> Alert:
    alert = Alert.get_or_none(Alert.id == alert_id)
    if alert is None:
        abort(404, message=f"no alert {alert_id}")
    return alert


@blp.route("")
class Alerts(MethodView):
    @require_role("viewer")
    @blp.arguments(AlertListArgs, location="query")
    @blp.response(200, page_schema(AlertSchema))
    def get(self, args):
        """List alerts, newest first (filter by status, severity, acknowledged)"""
        query = Alert.select().order_by(Alert.fired_at.desc(), Alert.id.desc())
        if "status" in args:
            query = query.where(Alert.status == args["status"])
        if "severity" in args:
            query = query.where(Alert.severity == args["severity"])
        if "acknowledged" in args:
            query = query.where(Alert.acknowledged_at.is_null(not args["acknowledged"]))
        return paginate(query, args)

    @require_role("operator")
    @blp.arguments(AlertInSchema)
    @blp.response(201, AlertSchema)
    def post(self, body):
        """Raise an alert by hand: notified like a rule's, firing until resolved"""
        alert = Alert.create(rule_id=None, rule_name="", subject=body["subject"], severity=body["severity"],
                             message=body["message"], fired_at=utcnow(), created_by=current_user().id)
        log.info("event=alert.raised alert=%s by=%s", alert.id, current_user().username)
        notify(alert, "fired")
        return alert


@blp.route("/<id:alert_id>")
class AlertById(MethodView):
    @require_role("viewer")
    @blp.response(200, AlertSchema)
    def get(self, alert_id):
        """One alert"""
        return existing(alert_id)


@blp.route("/<id:alert_id>/acknowledge")
class AcknowledgeAlert(MethodView):
    @require_role("operator")
    @blp.response(200, AlertSchema)
    def post(self, alert_id):
        """Acknowledge an alert: someone is on it (it stays firing until its condition clears)"""
        alert = existing(alert_id)
        if alert.acknowledged_at is None:
            Alert.update(acknowledged_at=utcnow(), acknowledged_by=current_user().id).where(Alert.id == alert.id).execute()
            alert = Alert.get_by_id(alert.id)
            tell_live(alert, "acknowledged")
        return alert


@blp.route("/<id:alert_id>/resolve")
class ResolveAlert(MethodView):
    @require_role("operator")
    @blp.response(200, AlertSchema)
    def post(self, alert_id):
        """Resolve an alert by hand (a rule's alert fires again if its condition still holds)"""
        alert = existing(alert_id)
        if alert.status == "resolved":
            abort(409, message=f"alert {alert_id} is already resolved")
        Alert.update(status="resolved", resolved_at=utcnow()).where(Alert.id == alert.id).execute()
        alert = Alert.get_by_id(alert.id)
        notify(alert, "resolved")
        return alert


@blp.route("/<id:alert_id>/deliveries")
class AlertDeliveries(MethodView):
    @require_role("admin")
    @blp.response(200, DeliveryListSchema)
    def get(self, alert_id):
        """Each notification of an alert: channel, target, status, every attempt"""
        existing(alert_id)
        return {"items": list(NotificationDelivery.select().where(NotificationDelivery.alert_id == alert_id)
                              .order_by(NotificationDelivery.id))}
