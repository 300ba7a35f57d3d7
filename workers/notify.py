"""Alert notifications: `notify_alert` plans one delivery per target and sends each as its own
`deliver_notification` job, which tries it `notifications.attempts` times with back-off and records
every attempt on its NotificationDelivery row.

Webhooks: a JSON POST signed with HMAC-SHA256 of the exact body (`X-Mcps-Signature: sha256=<hex>`), the
target's secret as key; 2xx is delivered, a 4xx other than 408/429 will not get better and is not tried
again. Email: one message to notifications.email_to through notifications.smtp. Switched by
features.webhooks / features.email_notifications at the time of the alert.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Callable

from config import Section
from jobs.events import ErrorType, JobError
from jobs.job import Job
from models import Alert, NotificationDelivery, WebhookTarget, utcnow
from workers.runtime import WorkerRuntime

log = logging.getLogger("mcps.notify")
RETRYABLE_STATUSES = (408, 429)
SIGNATURE_HEADER = "X-Mcps-Signature"


class Undeliverable(Exception):
    """Trying again will not help (the target refused the request)."""


def alert_view(alert: Alert) -> dict:
    def stamp(value):
        return value.isoformat() + "+00:00" if value else None
    return {"id": alert.id, "rule": alert.rule_name or None, "rule_id": alert.rule_id, "subject": alert.subject,
            "status": alert.status, "severity": alert.severity, "message": alert.message, "value": alert.value,
            "fired_at": stamp(alert.fired_at), "resolved_at": stamp(alert.resolved_at)}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_targets(settings: Section) -> list[tuple[int | None, str]]:
    """(webhook id or None for config's, url) of every enabled target."""
    targets = [(target.id, target.url) for target in WebhookTarget.select().where(WebhookTarget.enabled == True)]  # noqa: E712
    if settings.notifications.webhook_url:
        targets.append((None, settings.notifications.webhook_url))
    return targets


def notify_alert(job: Job, runtime: WorkerRuntime) -> dict:
    """Plan the deliveries of one alert event and send each as a job of its own."""
    settings = runtime.settings
    alert = Alert.get_or_none(Alert.id == job.args.get("alert_id"))
    if alert is None:
        raise JobError(f"no alert {job.args.get('alert_id')}", ErrorType.NOT_FOUND)
    event = job.args.get("event", "fired")
    planned = []
    if settings.features.webhooks:
        planned += [{"channel": "webhook", "target": url, "webhook_id": webhook_id}
                    for webhook_id, url in webhook_targets(settings)]
    if settings.features.email_notifications and settings.notifications.email_to and settings.notifications.smtp.host:
        planned.append({"channel": "email", "target": settings.notifications.email_to, "webhook_id": None})
    deliveries = [NotificationDelivery.create(alert_id=alert.id, event=event, **plan) for plan in planned]
    for delivery in deliveries:
        runtime.jobs.submit(Job(kind="deliver_notification", args={"delivery_id": delivery.id}))
    return {"alert_id": alert.id, "event": event, "deliveries": [d.id for d in deliveries]}


def deliver_notification(job: Job, runtime: WorkerRuntime) -> dict:
    delivery = NotificationDelivery.get_or_none(NotificationDelivery.id == job.args.get("delivery_id"))
    if delivery is None:
        raise JobError(f"no delivery {job.args.get('delivery_id')}", ErrorType.NOT_FOUND)
    alert = Alert.get_by_id(delivery.alert_id)
    payload = {"event": f"alert.{delivery.event}", "delivery_id": delivery.id, "sent_at": time.time(),
               "alert": alert_view(alert)}
    send = webhook_sender(runtime.settings, delivery, payload) if delivery.channel == "webhook" \
        else email_sender(runtime.settings, delivery, payload)
    return attempt(runtime.settings.notifications, delivery, send)


def attempt(notifications: Section, delivery: NotificationDelivery, send: Callable[[], int | None]) -> dict:
    """Try `send` until it succeeds or the attempts run out, recording each try; raises when it failed."""
    attempts, delay = [], notifications.backoff_s
    status, error = "failed", None
    for number in range(1, notifications.attempts + 1):
        started = time.monotonic()
        response_status = None
        try:
            response_status = send()
            error = None
        except Undeliverable as failure:
            response_status, error = failure.args[1] if len(failure.args) > 1 else None, str(failure.args[0])
        except (OSError, smtplib.SMTPException) as failure:
            error = f"{type(failure).__name__}: {failure}"
        attempts.append({"at": time.time(), "ok": error is None, "status": response_status, "error": error,
                         "ms": round((time.monotonic() - started) * 1000, 1)})
        NotificationDelivery.update(attempts=number, response_status=response_status, error=error,
                                    attempt_log=attempts).where(NotificationDelivery.id == delivery.id).execute()
        if error is None:
            status = "delivered"
            break
        log.warning("event=notification.attempt_failed delivery=%s channel=%s attempt=%d error=%r",
                    delivery.id, delivery.channel, number, error)
        if response_status is not None and 400 <= response_status < 500 and response_status not in RETRYABLE_STATUSES:
            break
        if number < notifications.attempts:
            time.sleep(delay)
            delay *= 2
    NotificationDelivery.update(status=status, finished_at=utcnow()).where(NotificationDelivery.id == delivery.id).execute()
    log.info("event=notification.%s delivery=%s channel=%s attempts=%d", status, delivery.id, delivery.channel,
             len(attempts))
    if status != "delivered":
        raise JobError(f"{delivery.channel} delivery {delivery.id} failed after {len(attempts)} attempts: {error}",
                       ErrorType.SERVER_ERROR)
    return {"delivery_id": delivery.id, "status": status, "attempts": len(attempts)}


def webhook_sender(settings: Section, delivery: NotificationDelivery, payload: dict) -> Callable[[], int]:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    if delivery.webhook_id is not None:
        target = WebhookTarget.get_or_none(WebhookTarget.id == delivery.webhook_id)
        secret = target.secret if target is not None else None
    else:
        secret = settings.notifications.webhook_secret or None
    headers = {"Content-Type": "application/json", "User-Agent": "mcps-alerts",
               "X-Mcps-Event": payload["event"], "X-Mcps-Delivery": str(delivery.id)}
    if secret:  # config's own target without notifications.webhook_secret goes unsigned
        headers[SIGNATURE_HEADER] = sign(secret, body)

    def send() -> int:
        request = urllib.request.Request(delivery.target, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=settings.notifications.timeout_s) as response:
                return response.status
        except urllib.error.HTTPError as refused:
            if refused.code >= 500 or refused.code in RETRYABLE_STATUSES:
                raise OSError(f"HTTP {refused.code}") from None
            raise Undeliverable(f"HTTP {refused.code}", refused.code) from None
    return send


def email_sender(settings: Section, delivery: NotificationDelivery, payload: dict) -> Callable[[], None]:
    smtp, alert = settings.notifications.smtp, payload["alert"]
    message = EmailMessage()
    message["Subject"] = f"[{settings.app.name}] {alert['status'].upper()} {alert['severity']}: {alert['message']}"
    message["From"] = smtp.sender
    message["To"] = delivery.target
    message.set_content(f"{alert['message']}\n\n{json.dumps(payload, indent=2, sort_keys=True)}\n")

    def send() -> None:
        timeout = settings.notifications.timeout_s
        if smtp.ssl:
            connection = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with connection:
            if smtp.starttls:
                connection.starttls(context=ssl.create_default_context())
            if smtp.username:
                connection.login(smtp.username, smtp.password)
            connection.send_message(message)
    return send
