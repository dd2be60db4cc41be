"""Scoring tables, one module per capability; this package re-exports them so that
``scoring.models.Prediction`` and migrations keep one name for each."""

from scoring.models.labels import GroundTruth
from scoring.models.monitoring import (
    ALERT_ACTIVE,
    ALERT_TRANSITIONS,
    Alert,
    AlertKind,
    AlertStatus,
    HourlyFeature,
    HourlyPredictions,
    MonitoringCursor,
    MonitoringReference,
    MonitoringSettings,
    ReferenceFeature,
)
from scoring.models.serving import AppToken, Prediction

__all__ = [
    "ALERT_ACTIVE",
    "ALERT_TRANSITIONS",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "AppToken",
    "GroundTruth",
    "HourlyFeature",
    "HourlyPredictions",
    "MonitoringCursor",
    "MonitoringReference",
    "MonitoringSettings",
    "Prediction",
    "ReferenceFeature",
]
