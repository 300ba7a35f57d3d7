"""Bodies and answers of /api/v1/monitoring/{alerts,alert-rules,webhooks}."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.pagination import PageArgs
from api.schemas import Pattern, StrictSchema, UTCDateTime, http_url
from models.alerts import ALERT_STATUSES, METRICS, OPERATORS, SEVERITIES

NAME = Pattern(r"^[A-Za-z0-9_.-]{1,64}$", error="1 to 64 letters, digits, '_', '.' or '-'")
HTTP_URL = http_url  # a pattern: the OpenAPI document states it (validate.URL's rules it could not)


class AlertSchema(Schema):
    id = fields.Integer()
    rule_id = fields.Integer(allow_none=True)
    rule = fields.String(attribute="rule_name", allow_none=True)
    subject = fields.String()
    status = fields.String(metadata={"description": "firing | resolved"})
    severity = fields.String()
    message = fields.String()
    value = fields.Float(allow_none=True)
    fired_at = UTCDateTime()
    resolved_at = UTCDateTime(allow_none=True)
    acknowledged_at = UTCDateTime(allow_none=True)
    acknowledged_by = fields.Integer(allow_none=True)
    created_by = fields.Integer(allow_none=True, metadata={"description": "who raised it by hand (null: a rule)"})


class AlertListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(ALERT_STATUSES))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    acknowledged = fields.Boolean()


class AlertInSchema(StrictSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    severity = fields.String(load_default="warning", validate=validate.OneOf(SEVERITIES))
    subject = fields.String(load_default="manual", validate=validate.Length(min=1, max=128))


class DeliverySchema(Schema):
    id = fields.Integer()
    alert_id = fields.Integer()
    event = fields.String()
    channel = fields.String()
    target = fields.String()
    webhook_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "pending | delivered | failed"})
    attempts = fields.Integer()
    response_status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    attempt_log = fields.List(fields.Dict())
    created_at = UTCDateTime()
    finished_at = UTCDateTime(allow_none=True)


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))


class AlertRuleSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    metric = fields.String()
    operator = fields.String()
    threshold = fields.Float()
    duration_s = fields.Integer()
    severity = fields.String()
    enabled = fields.Boolean()
    config_key = fields.String(allow_none=True, metadata={
        "description": "A default rule's threshold follows this config key until an admin sets it"})
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class AlertRuleListSchema(Schema):
    items = fields.List(fields.Nested(AlertRuleSchema))
    metrics = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "What each metric reads"})


class AlertRuleInSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    metric = fields.String(required=True, validate=validate.OneOf(sorted(METRICS)))
    operator = fields.String(load_default=">", validate=validate.OneOf(OPERATORS))
    threshold = fields.Float(required=True, allow_nan=False)
    duration_s = fields.Integer(load_default=0, validate=validate.Range(min=0, max=7 * 24 * 3600))
    severity = fields.String(load_default="warning", validate=validate.OneOf(SEVERITIES))
    enabled = fields.Boolean(load_default=True)


class AlertRulePatchSchema(StrictSchema):
    metric = fields.String(validate=validate.OneOf(sorted(METRICS)))
    operator = fields.String(validate=validate.OneOf(OPERATORS))
    threshold = fields.Float(allow_nan=False)
    duration_s = fields.Integer(validate=validate.Range(min=0, max=7 * 24 * 3600))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    enabled = fields.Boolean()


class WebhookSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    url = fields.String()
    enabled = fields.Boolean()
    secret = fields.String(metadata={"description": "Only in the answer that created it (or set a new one)"})
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema))


class WebhookInSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    url = fields.String(required=True, validate=HTTP_URL)
    secret = fields.String(validate=validate.Length(min=16, max=512), metadata={
        "description": "The HMAC-SHA256 key of X-Mcps-Signature; generated (and shown once) when absent"})
    enabled = fields.Boolean(load_default=True)


class WebhookPatchSchema(StrictSchema):
    url = fields.String(validate=HTTP_URL)
    secret = fields.String(validate=validate.Length(min=16, max=512))
    enabled = fields.Boolean()
