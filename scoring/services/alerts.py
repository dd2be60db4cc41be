"""Alerts: open one when a monitored condition crosses its model's threshold, resolve it when
the condition clears, acknowledge it for a person; and the audited change of thresholds.

One alert per ongoing condition (version, kind, feature): while it is open or acknowledged the
job raises nothing new for it, however many hours it lasts; once it resolved, the next crossing
opens a new one. Opening and resolving write an audit record, which the model's webhooks receive
(``model.alert``, ``model.alert_resolved``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from releases.errors import Forbidden, InvalidInput, InvalidTransition
from releases.models import ModelVersion, RegisteredModel
from releases.selectors import user_can
from releases.services.audit import audit_record
from scoring.models import (
    ALERT_ACTIVE,
    ALERT_TRANSITIONS,
    Alert,
    AlertKind,
    AlertStatus,
    MonitoringCursor,
    MonitoringSettings,
)


@dataclass(frozen=True)
class Condition:
    kind: str
    feature: str
    value: float
    threshold: float
    crossed: bool
    message: str


def conditions_of(
    *, model_version: ModelVersion, now: datetime
) -> tuple[list[Condition], dict[str, Any]]:
    """What the model's alert window says about each monitored condition (a condition with
    too little data in the window is left out: it neither opens nor resolves an alert), and
    the window's health figures."""
    from scoring.selectors.monitoring import (
        MIN_LABELS,
        Window,
        drift_report,
        monitoring_settings_for,
        prediction_stats,
    )

    chosen = monitoring_settings_for(registered_model=model_version.registered_model)
    hours = chosen.window_hours
    stats = prediction_stats(model_version=model_version, hours=hours, now=now)
    out: list[Condition] = []
    report = (
        drift_report(model_version=model_version, window=Window(hours, "hours"), now=now)
        if stats.rows
        else None
    )
    health = {
        "evaluated_at": now.isoformat(),
        "rows": stats.rows,
        "drift_share": report.drift_share if report and report.has_reference else None,
        "dataset_drifted": bool(report and report.dataset_drifted),
        "low_confidence_rate": stats.low_confidence_rate,
        "live_accuracy": stats.live_accuracy,
        "requests": stats.requests,
        "error_rate": stats.error_rate,
    }
    # Before the row check: a version whose every request fails logs no prediction at all.
    if stats.error_rate is not None and stats.requests >= chosen.min_rows:
        out.append(
            Condition(
                AlertKind.ERROR_RATE, "", stats.error_rate, chosen.max_error_rate,
                stats.error_rate > chosen.max_error_rate,
                f"{stats.error_rate:.1%} of {stats.requests} requests failed (4xx or 5xx) in "
                f"the last {hours}h (threshold {chosen.max_error_rate:.0%}); the access log "
                "and /metrics say which statuses.",
            )
        )  # fmt: skip
    if report is None or stats.rows < chosen.min_rows:
        return out, health
    if report.has_reference and any(r.test for r in report.features):
        drifted = [r.feature for r in report.features if r.drifted]
        out.append(
            Condition(
                AlertKind.DRIFT, "", report.drift_share, chosen.drift_share,
                report.drift_share >= chosen.drift_share,
                f"{report.drift_share:.0%} of features drifted in the last {hours}h "
                f"(threshold {chosen.drift_share:.0%}): {', '.join(drifted[:10]) or 'none'}.",
            )
        )  # fmt: skip
    for result in report.features:
        if result.missing_rate is None or result.current_rows < chosen.min_rows:
            continue
        out.append(
            Condition(
                AlertKind.MISSING, result.feature, result.missing_rate, chosen.missing_rate,
                result.missing_rate > chosen.missing_rate,
                f"{result.feature} was missing in {result.missing_rate:.0%} of predictions in "
                f"the last {hours}h (threshold {chosen.missing_rate:.0%}).",
            )
        )  # fmt: skip
    if stats.low_confidence_rate is not None and stats.confidence_rows >= chosen.min_rows:
        out.append(
            Condition(
                AlertKind.LOW_CONFIDENCE, "", stats.low_confidence_rate, chosen.low_confidence_rate,
                stats.low_confidence_rate > chosen.low_confidence_rate,
                f"{stats.low_confidence_rate:.0%} of predictions had confidence below "
                f"{stats.low_confidence_below:.2f} in the last {hours}h "
                f"(threshold {chosen.low_confidence_rate:.0%}).",
            )
        )  # fmt: skip
    if stats.live_accuracy is not None and stats.sampled >= MIN_LABELS:
        out.append(
            Condition(
                AlertKind.ACCURACY, "", stats.live_accuracy, chosen.min_accuracy,
                stats.live_accuracy < chosen.min_accuracy,
                f"Live accuracy {stats.live_accuracy:.1%} on {stats.sampled} sampled labels "
                f"in the last {hours}h (minimum {chosen.min_accuracy:.0%}).",
            )
        )  # fmt: skip
    return out, health


def _payload(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.pk, "kind": alert.kind, "feature": alert.feature,
        "value": alert.value, "threshold": alert.threshold, "message": alert.message,
        "status": alert.status,
    }  # fmt: skip


def alerts_evaluate(*, model_version: ModelVersion, now: datetime | None = None) -> list[Alert]:
    """Open alerts for conditions that crossed, resolve those that cleared; the changed ones."""
    now = now or timezone.now()
    changed: list[Alert] = []
    conditions, health = conditions_of(model_version=model_version, now=now)
    MonitoringCursor.objects.filter(model_version=model_version).update(health=health)
    for condition in conditions:
        with transaction.atomic():
            active = (
                Alert.objects.select_for_update()
                .filter(
                    model_version=model_version,
                    kind=condition.kind,
                    feature=condition.feature,
                    status__in=ALERT_ACTIVE,
                )
                .first()
            )
            if condition.crossed and active is None:
                try:
                    with transaction.atomic():
                        alert = Alert.objects.create(
                            registered_model_id=model_version.registered_model_id,
                            model_version=model_version, kind=condition.kind,
                            feature=condition.feature, value=condition.value,
                            threshold=condition.threshold, message=condition.message[:500],
                            opened_at=now,
                        )  # fmt: skip
                except IntegrityError:
                    continue  # another run opened it a moment ago
                audit_record(
                    actor=None, action="monitoring.alert_open", model_version=model_version,
                    payload=_payload(alert),
                )  # fmt: skip
                changed.append(alert)
            elif not condition.crossed and active is not None:
                _resolve(active, now=now, why={"value_now": condition.value})
                changed.append(active)
    return changed


def _resolve(alert: Alert, *, now: datetime, why: dict[str, Any]) -> None:
    """Resolve a locked active alert, audited (``model.alert_resolved`` for its webhooks)."""
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.save(update_fields=["status", "resolved_at"])
    audit_record(
        actor=None, action="monitoring.alert_resolve", model_version=alert.model_version,
        payload={**_payload(alert), **why},
    )  # fmt: skip


def alerts_resolve_unmonitored(*, monitored: list[int], now: datetime | None = None) -> int:
    """Resolve the active alerts of versions the job no longer watches (no stage, no recent
    traffic): nobody can act on a condition of a version that serves nothing, and nothing
    else would ever resolve them. Audited like any resolution; the number resolved."""
    now = now or timezone.now()
    count = 0
    stale = Alert.objects.filter(status__in=ALERT_ACTIVE).exclude(model_version_id__in=monitored)
    for alert_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update()
                .select_related("model_version")
                .filter(pk=alert_id, status__in=ALERT_ACTIVE)
                .first()
            )
            if alert is None:
                continue
            _resolve(alert, now=now, why={"reason": "version no longer served"})
            count += 1
    return count


def _may_act(actor: User, model: RegisteredModel) -> bool:
    return user_can(user=actor, team_id=model.team_id, action="operate")


@transaction.atomic
def alert_acknowledge(*, actor: User, alert: Alert) -> Alert:
    """A person has seen the alert and owns it (data scientists, reviewers and admins of the
    model's team). Idempotent; a resolved alert cannot be acknowledged any more (409)."""
    model = alert.registered_model
    if not _may_act(actor, model):
        raise Forbidden(
            f"Only data scientists, reviewers and admins of team {model.team.name!r} can "
            "acknowledge its alerts."
        )
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    if locked.status == AlertStatus.ACKNOWLEDGED:
        return locked
    if AlertStatus.ACKNOWLEDGED not in ALERT_TRANSITIONS[locked.status]:
        raise InvalidTransition(f"Alert {locked.pk} is {locked.status}; nothing to acknowledge.")
    locked.status = AlertStatus.ACKNOWLEDGED
    locked.acknowledged_at = timezone.now()
    locked.acknowledged_by = actor
    locked.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    audit_record(
        actor=actor,
        action="monitoring.alert_acknowledge",
        model_version=locked.model_version,
        payload=_payload(locked),
    )
    return locked


SETTINGS_FIELDS = (
    "numeric_test", "categorical_test", "drift_share", "missing_rate", "low_confidence",
    "low_confidence_rate", "min_accuracy", "max_error_rate", "window_hours", "min_rows",
)  # fmt: skip


@transaction.atomic
def monitoring_settings_update(
    *, actor: User, registered_model: RegisteredModel, changes: dict[str, Any]
) -> MonitoringSettings:
    """Change a model's monitoring thresholds (reviewers, data scientists and admins of its
    team); a 400 names the first field out of range. Audited with before and after."""
    if not _may_act(actor, registered_model):
        raise Forbidden(
            f"Only data scientists, reviewers and admins of team {registered_model.team.name!r} "
            "can change its monitoring thresholds."
        )
    unknown = [k for k in changes if k not in SETTINGS_FIELDS]
    if unknown:
        raise InvalidInput(
            f"Unknown setting {unknown[0]!r}; use any of: {', '.join(SETTINGS_FIELDS)}.",
            field=unknown[0],
        )
    row, _ = MonitoringSettings.objects.select_for_update().get_or_create(
        registered_model=registered_model
    )
    before = {k: getattr(row, k) for k in SETTINGS_FIELDS}
    for key, value in changes.items():
        setattr(row, key, value)
    try:
        row.full_clean(exclude=["registered_model", "updated_by"])
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(f"{name}: {' '.join(messages)}", field=name) from None
    after = {k: getattr(row, k) for k in SETTINGS_FIELDS}
    if after == before:
        return row
    row.updated_by = actor
    row.save()
    audit_record(
        actor=actor,
        action="monitoring.settings_update",
        registered_model=registered_model,
        payload={"before": before, "after": after},
    )
    return row
