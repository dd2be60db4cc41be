"""Webhooks: who may add one, how an audited action becomes deliveries, and one delivery attempt.

Reviewers and admins of the model's team manage its webhooks (the people who release it); data
scientists and labelers neither see nor change them, because a webhook URL often carries a
credential of the receiving system (chat and CI hooks put one in the path).
"""

from __future__ import annotations

import json
import secrets
import time
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from releases import webhooks as plain
from releases.errors import Forbidden, InvalidInput
from releases.models import (
    WEBHOOK_EVENTS,
    AuditEvent,
    DeliveryStatus,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from releases.selectors import user_can

MAX_WEBHOOKS_PER_MODEL = 20
MAX_RETRY_DELAY_SECONDS = 3600

Outcome = Literal["delivered", "retry", "failed", "skipped"]


def _secret_keys() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def redacted_url(url: str) -> str:
    """The URL without its query string, for the audit trail that the whole team reads."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@transaction.atomic
def webhook_create(
    *, actor: User, registered_model: RegisteredModel, url: str, events: list[str] | None = None
) -> tuple[Webhook, str]:
    """Add a webhook; returns it and its signing secret, which is never shown again."""
    if not user_can(user=actor, team_id=registered_model.team_id, action="review"):
        raise Forbidden("Only reviewers and admins of the model's team can add webhooks.")
    chosen = list(dict.fromkeys(events or WEBHOOK_EVENTS))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        raise InvalidInput(
            f"Unknown event {unknown[0]!r}; use any of: {', '.join(WEBHOOK_EVENTS)}.",
            field="events",
        )
    try:
        url = plain.check_url(url, allow_hosts=settings.MODELGATE_WEBHOOK_ALLOW_HOSTS)
    except plain.UnsafeWebhookURL as exc:
        raise InvalidInput(str(exc), field="url") from None
    model = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
    if model.webhooks.count() >= MAX_WEBHOOKS_PER_MODEL:
        raise InvalidInput(
            f"A model has at most {MAX_WEBHOOKS_PER_MODEL} webhooks; delete one first.",
            field="url",
        )
    secret = plain.new_secret()
    webhook = Webhook.objects.create(
        registered_model=model,
        url=url,
        events=[e for e in WEBHOOK_EVENTS if e in chosen],
        secret_encrypted=plain.encrypt_secret(secret, secret_keys=_secret_keys()),
        created_by=actor,
    )
    from releases.services.audit import audit_record

    audit_record(
        actor=actor,
        action="webhook.create",
        registered_model=model,
        payload={"webhook_id": webhook.pk, "url": redacted_url(url), "events": webhook.events},
    )
    return webhook, secret


@transaction.atomic
def webhook_delete(*, actor: User, webhook: Webhook) -> None:
    model = webhook.registered_model
    if not user_can(user=actor, team_id=model.team_id, action="review"):
        raise Forbidden("Only reviewers and admins of the model's team can delete webhooks.")
    locked = Webhook.objects.select_for_update().filter(pk=webhook.pk).first()
    if locked is None:
        return  # already deleted
    payload = {"webhook_id": locked.pk, "url": redacted_url(locked.url), "events": locked.events}
    locked.delete()
    from releases.services.audit import audit_record

    audit_record(actor=actor, action="webhook.delete", registered_model=model, payload=payload)


def webhook_deliveries_enqueue(*, audit_event: AuditEvent, event: str) -> list[WebhookDelivery]:
    """A delivery for each of the model's active webhooks that wants ``event``, sent once the
    audited action commits (a rolled-back action announces nothing)."""
    from releases.tasks import deliver_webhook

    hooks = Webhook.objects.filter(registered_model_id=audit_event.registered_model_id, active=True)
    # JSON "contains" is not portable to SQLite; a model has at most a few webhooks.
    deliveries = [
        WebhookDelivery.objects.create(webhook=hook, audit_event=audit_event, event=event)
        for hook in hooks
        if event in hook.events
    ]
    for delivery in deliveries:
        transaction.on_commit(partial(deliver_webhook.delay, delivery_id=delivery.pk))
    return deliveries


def webhook_payload(*, delivery: WebhookDelivery, audit_event: AuditEvent) -> dict[str, Any]:
    """The JSON body: what happened, to which model and version, by whom, with the audit row's
    payload (comment, before / after) as ``data``. Built from the append-only audit row, so a
    retry sends the same body."""
    model = audit_event.registered_model
    version = audit_event.model_version
    return {
        "id": delivery.pk,
        "event": delivery.event,
        "occurred_at": audit_event.created_at.isoformat(),
        "audit_event_id": audit_event.pk,
        "model": {"name": model.name, "team": model.team.name} if model else None,
        "version": {"number": version.version, "sha256": version.sha256} if version else None,
        "actor": audit_event.actor.get_username() if audit_event.actor else None,
        "data": audit_event.payload,
    }


def webhook_retry_delay(*, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential, with up
    to 25% jitter so many receivers coming back at once are not hit in step. Capped well below
    the broker's visibility timeout: Redis hands a task that waits longer to a second worker."""
    cap = min(MAX_RETRY_DELAY_SECONDS, getattr(settings, "CELERY_VISIBILITY_TIMEOUT", 3600) / 2)
    base = min(settings.MODELGATE_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1), cap * 0.8)
    return float(base + secrets.SystemRandom().uniform(0, base / 4))


def webhook_delivery_attempt(*, delivery_id: int) -> Outcome:
    """Make one attempt and record it. The network call runs outside any transaction."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}:
        return "skipped"  # webhook deleted meanwhile, or a duplicate of a finished task
    webhook = delivery.webhook
    audit_event = AuditEvent.objects.select_related(
        "actor", "registered_model__team", "model_version"
    ).get(pk=delivery.audit_event_id)
    body = json.dumps(
        webhook_payload(delivery=delivery, audit_event=audit_event),
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()
    timestamp = int(time.time())
    try:
        secret = plain.decrypt_secret(webhook.secret_encrypted, secret_keys=_secret_keys())
    except plain.UnsafeWebhookURL as exc:
        result = plain.DeliveryResult(None, 0.0, str(exc), refused=True)
    else:
        result = plain.deliver(
            url=webhook.url,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "ModelGate-Webhook/1",
                plain.SIGNATURE_HEADER: plain.signature_header(
                    secret=secret, timestamp=timestamp, body=body
                ),
                plain.EVENT_HEADER: delivery.event,
                plain.DELIVERY_HEADER: str(delivery.pk),
            },
            allow_hosts=settings.MODELGATE_WEBHOOK_ALLOW_HOSTS,
            timeout_seconds=settings.MODELGATE_WEBHOOK_TIMEOUT_SECONDS,
        )
    return _record_attempt(delivery_id=delivery_id, result=result)


@transaction.atomic
def _record_attempt(*, delivery_id: int, result: plain.DeliveryResult) -> Outcome:
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or delivery.status in {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}:
        return "skipped"
    now = timezone.now()
    delivery.attempts += 1
    delivery.response_status = result.status_code
    delivery.duration_ms = result.duration_ms
    delivery.error = result.error[:500]
    delivery.last_attempt_at = now
    delivery.attempt_log = [
        *delivery.attempt_log,
        {
            "attempt": delivery.attempts,
            "at": now.isoformat(),
            "status_code": result.status_code,
            "duration_ms": result.duration_ms,
            "error": result.error[:500],
        },
    ]
    outcome: Outcome
    if result.ok:
        delivery.status, outcome = DeliveryStatus.DELIVERED, "delivered"
    elif result.retryable and delivery.attempts < settings.MODELGATE_WEBHOOK_MAX_ATTEMPTS:
        delivery.status, outcome = DeliveryStatus.RETRYING, "retry"
    else:
        delivery.status, outcome = DeliveryStatus.FAILED, "failed"
    delivery.save()
    return outcome
