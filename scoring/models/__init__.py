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
from scoring.models.serving import AppToken, Prediction

__all__ = [
    "BATCH_TERMINAL",
    "BATCH_TRANSITIONS",
    "AppToken",
    "BatchFormat",
    "BatchJob",
    "BatchJobStatus",
    "GroundTruth",
    "Prediction",
]
