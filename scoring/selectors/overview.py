"""The monitoring overview: every served version of the user's models and its health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from releases.models import ModelVersion, RegisteredModel, StageAssignment
from releases.selectors import AnyUser, registered_models_visible
from scoring.models import ALERT_ACTIVE, Alert, MonitoringCursor

HEALTH_LABELS = {
    "alerting": "alerting",
    "drifting": "drifting",
    "healthy": "healthy",
    "no_traffic": "no traffic",
}


def health_of(*, open_alerts: int, rows: int, drifted: bool) -> str:
    """alerting (an open alert) > no traffic > drifting > healthy."""
    if open_alerts:
        return "alerting"
    if not rows:
        return "no_traffic"
    return "drifting" if drifted else "healthy"


@dataclass
class ServedVersion:
    model: RegisteredModel
    version: ModelVersion
    stage: str
    rows: int
    health: str
    open_alerts: int
    drift_share: float | None
    low_confidence_rate: float | None
    live_accuracy: float | None
    error_rate: float | None

    @property
    def health_label(self) -> str:
        return HEALTH_LABELS[self.health]


def served_versions(*, user: AnyUser, now: datetime | None = None) -> list[ServedVersion]:
    """Every version holding a stage of a model the user may see, with its health over the
    model's alert window as the monitoring job last saw it (within a minute): alerting (an open
    alert), drifting (dataset drift), no traffic, or healthy. One query per table, whatever
    the number of models."""
    now = now or timezone.now()
    models = registered_models_visible(user=user)
    assignments = list(
        StageAssignment.objects.filter(registered_model__in=models)
        .select_related("registered_model__team", "model_version__registered_model")
        .order_by("registered_model__name", "-stage")
    )
    alerts: dict[int, int] = {}
    for version_id in Alert.objects.filter(
        registered_model__in=models, status__in=ALERT_ACTIVE
    ).values_list("model_version_id", flat=True):
        alerts[version_id] = alerts.get(version_id, 0) + 1
    seen = dict(
        MonitoringCursor.objects.filter(
            model_version_id__in=[a.model_version_id for a in assignments]
        ).values_list("model_version_id", "health")
    )
    out = []
    for assignment in assignments:
        version = assignment.model_version
        figures = seen.get(version.pk) or _health_now(version, now)
        health = health_of(
            open_alerts=alerts.get(version.pk, 0),
            # A version whose every request failed logged no prediction, yet had traffic.
            rows=figures["rows"] or figures.get("requests", 0),
            drifted=figures["dataset_drifted"],
        )
        out.append(
            ServedVersion(
                model=assignment.registered_model, version=version, stage=assignment.stage,
                rows=figures["rows"], health=health, open_alerts=alerts.get(version.pk, 0),
                drift_share=figures["drift_share"],
                low_confidence_rate=figures["low_confidence_rate"],
                live_accuracy=figures["live_accuracy"],
                error_rate=figures.get("error_rate"),
            )
        )  # fmt: skip
    return out


def _health_now(version: ModelVersion, now: datetime) -> dict[str, Any]:
    """The figures the monitoring job keeps, for a version it has not evaluated yet (the
    same computation the job runs, without raising or resolving alerts)."""
    from scoring.services.alerts import conditions_of

    return conditions_of(model_version=version, now=now)[1]
