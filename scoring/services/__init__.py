"""Every write in scoring. Keyword-only arguments, ``actor`` always passed, one transaction
each, one audit row each. One module per capability; this package re-exports them."""

from scoring.services.alerts import (
    alert_acknowledge,
    alerts_evaluate,
    monitoring_settings_update,
)
from scoring.services.app_tokens import app_token_create, app_token_revoke
from scoring.services.labels import ground_truth_write, label_check
from scoring.services.monitoring import monitor_run, reference_freeze, version_aggregate

__all__ = [
    "alert_acknowledge",
    "alerts_evaluate",
    "app_token_create",
    "app_token_revoke",
    "ground_truth_write",
    "label_check",
    "monitor_run",
    "monitoring_settings_update",
    "reference_freeze",
    "version_aggregate",
]
