"""Scoring tables, one module per capability; this package re-exports them so that
``scoring.models.Prediction`` and migrations keep one name for each."""

from scoring.models.batch import (
    BATCH_TERMINAL,
    BATCH_TRANSITIONS,
    BatchFormat,
    BatchJob,
    BatchJobStatus,
)
from scoring.models.labels import GroundTruth
from scoring.models.monitoring import (
    ALERT_ACTIVE,
    ALERT_TRANSITIONS,
    Alert,
    AlertKind,
    AlertStatus,
    HourlyFeature,
    HourlyPredictions,
    HourlyRequests,
    MonitoringCursor,
    MonitoringReference,
    MonitoringSettings,
    ReferenceFeature,
)
from scoring.models.relabel import (
    RELABEL_TRANSITIONS,
    RegressionRule,
    RelabelItem,
    RelabelLabel,
    RelabelPolicy,
    RelabelReason,
    RelabelStatus,
    RelabelStrategy,
)
from scoring.models.serving import AppToken, Prediction
from scoring.models.shadow import ShadowMode, ShadowResult

__all__ = [
    "ALERT_ACTIVE",
    "ALERT_TRANSITIONS",
    "BATCH_TERMINAL",
    "BATCH_TRANSITIONS",
    "RELABEL_TRANSITIONS",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "AppToken",
    "BatchFormat",
    "BatchJob",
    "BatchJobStatus",
    "GroundTruth",
    "HourlyFeature",
    "HourlyPredictions",
    "HourlyRequests",
    "MonitoringCursor",
    "MonitoringReference",
    "MonitoringSettings",
    "Prediction",
    "ReferenceFeature",
    "RegressionRule",
    "RelabelItem",
    "RelabelLabel",
    "RelabelPolicy",
    "RelabelReason",
    "RelabelStatus",
    "RelabelStrategy",
    "ShadowMode",
    "ShadowResult",
]
