"""/api/v1/monitoring/webhooks (admins): where alerts are POSTed when features.webhooks is on.

A target's secret is the HMAC key of its deliveries' X-Mcps-Signature; it is stored encrypted and shown
only in the answer that set it (generated when none is given).
"""
from __future__ import annotations

import logging
import secrets

import peewee
from flask.views import MethodView

from api.auth import current_user, require_role
from api.bodies import Blueprint
from api.errors import abort
from api.monitoring.schemas import WebhookInSchema, WebhookListSchema, WebhookPatchSchema, WebhookSchema
from models import WebhookTarget, db, utcnow

blp = Blueprint("webhooks", __name__, url_prefix="/monitoring/webhooks", description="Alert webhook targets")
log = logging.getLogger("mcps.api.alerts")


def view(target: WebhookTarget, secret: str | None = None) -> dict:
    shown = {"secret": secret} if secret else {}
    return {"id": target.id, "name": target.name, "url": target.url, "enabled": target.enabled,
            "created_at": target.created_at, "updated_at": target.updated_at, **shown}


def existing(webhook_id: int) -> WebhookTarget:
    target = WebhookTarget.get_or_none(WebhookTarget.id == webhook_id)
    if target is None:
        abort(404, message=f"no webhook {webhook_id}")
    return target


@blp.route("")
class Webhooks(MethodView):
    @require_role("admin")
    @blp.response(200, WebhookListSchema)
    def get(self):
        """List the webhook targets (secrets never shown)"""
        return {"items": [view(target) for target in WebhookTarget.select().order_by(WebhookTarget.id)]}

    @require_role("admin")
    @blp.arguments(WebhookInSchema)
    @blp.response(201, WebhookSchema)
    def post(self, body):
        """Add a webhook target; the answer shows its secret, once"""
        secret = body.pop("secret", None) or secrets.token_hex(32)
        try:
            with db.atomic():
                target = WebhookTarget.create(secret=secret, created_by=current_user().id, **body)
        except peewee.IntegrityError:
            abort(409, message=f"a webhook named {body['name']} exists")
        log.info("event=webhook.created webhook=%s by=%s", target.name, current_user().username)
        return view(target, secret)


@blp.route("/<id:webhook_id>")
class WebhookById(MethodView):
    @require_role("admin")
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id):
        """One webhook target"""
        return view(existing(webhook_id))

    @require_role("admin")
    @blp.arguments(WebhookPatchSchema)
    @blp.response(200, WebhookSchema)
    def patch(self, body, webhook_id):
        """Change a target's URL, secret or switch"""
        target = existing(webhook_id)
        WebhookTarget.update(**body, updated_at=utcnow()).where(WebhookTarget.id == target.id).execute()
        log.info("event=webhook.changed webhook=%s by=%s fields=%s", target.name, current_user().username,
                 ",".join(sorted(body)))
        return view(WebhookTarget.get_by_id(target.id), body.get("secret"))

    @require_role("admin")
    @blp.response(204)
    def delete(self, webhook_id):
        """Delete a webhook target"""
        target = existing(webhook_id)
        target.delete_instance()
        log.info("event=webhook.deleted webhook=%s by=%s", target.name, current_user().username)
