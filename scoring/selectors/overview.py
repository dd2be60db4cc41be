"""The monitoring overview: every served version of the user's models and its health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from releases.models import ModelVersion, RegisteredModel, StageAssignment
from releases.selectors import AnyUser, registered_models_visible
from scoring.models import ALERT_ACTIVE, Alert, MonitoringCursor
from scoring.selectors.monitoring import (
    Window,
    drift_report,
    monitoring_settings_for,
    prediction_stats,
)

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
            rows=figures["rows"],
            drifted=figures["dataset_drifted"],
        )
        out.append(
            ServedVersion(
                model=assignment.registered_model, version=version, stage=assignment.stage,
                rows=figures["rows"], health=health, open_alerts=alerts.get(version.pk, 0),
                drift_share=figures["drift_share"],
                low_confidence_rate=figures["low_confidence_rate"],
                live_accuracy=figures["live_accuracy"],
            )
        )  # fmt: skip
    return out


def _health_now(version: ModelVersion, now: datetime) -> dict[str, Any]:
    """The figures the monitoring job keeps, for a version it has not evaluated yet."""
    chosen = monitoring_settings_for(registered_model=version.registered_model)
    stats = prediction_stats(model_version=version, hours=chosen.window_hours, now=now)
    window = Window(chosen.window_hours, "hours")
    report = drift_report(model_version=version, window=window, now=now) if stats.rows else None
    return {
        "rows": stats.rows,
        "drift_share": report.drift_share if report and report.has_reference else None,
        "dataset_drifted": bool(report and report.dataset_drifted),
        "low_confidence_rate": stats.low_confidence_rate,
        "live_accuracy": stats.live_accuracy,
    }
