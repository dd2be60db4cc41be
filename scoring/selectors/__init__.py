"""Scoring reads, already cut to what the user may see. One module per capability; this
package re-exports them."""

from scoring.selectors.alerts import alert_get_for_user, alerts_for_model, alerts_visible
from scoring.selectors.app_tokens import app_token_get_for_user, app_tokens_for_model
from scoring.selectors.monitoring import (
    drift_rank,
    drift_report,
    feature_histogram,
    hourly_series,
    monitored_version,
    monitoring_settings_for,
    prediction_stats,
    window_parse,
)
from scoring.selectors.overview import served_versions

__all__ = [
    "alert_get_for_user",
    "alerts_for_model",
    "alerts_visible",
    "app_token_get_for_user",
    "app_tokens_for_model",
    "drift_rank",
    "drift_report",
    "feature_histogram",
    "hourly_series",
    "monitored_version",
    "monitoring_settings_for",
    "prediction_stats",
    "served_versions",
    "window_parse",
]
