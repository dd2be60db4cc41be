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
    "BATCH_TERMINAL",
    "BATCH_TRANSITIONS",
    "RELABEL_TRANSITIONS",
    "AppToken",
    "BatchFormat",
    "BatchJob",
    "BatchJobStatus",
    "GroundTruth",
    "Prediction",
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
