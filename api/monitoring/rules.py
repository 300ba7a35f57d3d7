"""/api/v1/monitoring/alert-rules: what raises alerts (read by everyone, written by admins).

The default rules (models.alerts.default_rules: config's monitoring.*_alert_percent, tools in ERROR,
queue depth) are created on first read; they may be edited or disabled, not deleted.
"""
from __future__ import annotations

import logging

import peewee
from flask.views import MethodView

from api.auth import current_user, require_role
from api.bodies import Blueprint
from api.errors import abort
from api.extensions import get_settings
from api.monitoring.schemas import AlertRuleInSchema, AlertRuleListSchema, AlertRulePatchSchema, AlertRuleSchema
from models import AlertRule, db, utcnow
from models.alerts import METRICS, default_rules, ensure_default_rules

blp = Blueprint("alert_rules", __name__, url_prefix="/monitoring/alert-rules", description="Alert rules")
log = logging.getLogger("mcps.api.alerts")


def existing(rule_id: int) -> AlertRule:
    rule = AlertRule.get_or_none(AlertRule.id == rule_id)
    if rule is None:
        abort(404, message=f"no alert rule {rule_id}")
    return rule


@blp.route("")
class AlertRules(MethodView):
    @require_role("viewer")
    @blp.response(200, AlertRuleListSchema)
    def get(self):
        """List the alert rules (the default ones included) and the metrics a rule may watch"""
        ensure_default_rules(get_settings())
        return {"items": list(AlertRule.select().order_by(AlertRule.id)), "metrics": METRICS}

    @require_role("admin")
    @blp.arguments(AlertRuleInSchema)
    @blp.response(201, AlertRuleSchema)
    def post(self, body):
        """Add an alert rule"""
        try:
            with db.atomic():
                rule = AlertRule.create(**body)
        except peewee.IntegrityError:
            abort(409, message=f"an alert rule named {body['name']} exists")
        log.info("event=alert_rule.created rule=%s by=%s", rule.name, current_user().username)
        return rule


@blp.route("/<id:rule_id>")
class AlertRuleById(MethodView):
    @require_role("viewer")
    @blp.response(200, AlertRuleSchema)
    def get(self, rule_id):
        """One alert rule"""
        return existing(rule_id)

    @require_role("admin")
    @blp.arguments(AlertRulePatchSchema)
    @blp.response(200, AlertRuleSchema)
    def patch(self, body, rule_id):
        """Change a rule (setting a default rule's threshold stops it following its config key)"""
        rule = existing(rule_id)
        changes = dict(body, updated_at=utcnow())
        if "threshold" in body:
            changes["config_key"] = None
        AlertRule.update(**changes).where(AlertRule.id == rule.id).execute()
        log.info("event=alert_rule.changed rule=%s by=%s fields=%s", rule.name, current_user().username,
                 ",".join(sorted(body)))
        return AlertRule.get_by_id(rule.id)

    @require_role("admin")
    @blp.response(204)
    def delete(self, rule_id):
        """Delete a rule (its firing alerts resolve at the next evaluation); default rules are disabled instead"""
        rule = existing(rule_id)
        if rule.name in {default["name"] for default in default_rules(get_settings())}:
            abort(409, message=f"{rule.name} is a default rule: disable it (PATCH enabled=false) instead")
        rule.delete_instance()
        log.info("event=alert_rule.deleted rule=%s by=%s", rule.name, current_user().username)
