"""Scoring tables, one module per capability; this package re-exports them so that
``scoring.models.Prediction`` and migrations keep one name for each."""

from scoring.models.labels import GroundTruth
from scoring.models.serving import AppToken, Prediction
from scoring.models.shadow import ShadowMode, ShadowResult

__all__ = ["AppToken", "GroundTruth", "Prediction", "ShadowMode", "ShadowResult"]
