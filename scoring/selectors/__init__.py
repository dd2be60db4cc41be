"""Scoring reads, already cut to what the user may see. One module per capability; this
package re-exports them."""

from scoring.selectors.alerts import alert_get_for_user, alerts_for_model, alerts_visible
from scoring.selectors.app_tokens import app_token_get_for_user, app_tokens_for_model
from scoring.selectors.batch import (
    batch_job_files_deleted_at,
    batch_job_get_for_caller,
    batch_jobs_for_model,
)
from scoring.selectors.corrected_dataset import (
    corrected_dataset_count,
    corrected_dataset_signature,
    corrected_rows,
)
from scoring.selectors.feedback import prediction_get_for_caller
from scoring.selectors.labels import LiveAccuracy, live_accuracy, live_accuracy_served
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
from scoring.selectors.relabel import (
    relabel_disputed_items,
    relabel_item_explanation,
    relabel_item_get_for_user,
    relabel_item_payload,
    relabel_labels_today,
    relabel_model_get_for_user,
    relabel_policy_for,
    relabel_queue_counts,
    relabel_queues_for_user,
    user_can_label,
    user_can_settle,
    user_labels_anywhere,
)
from scoring.selectors.shadow import Agreement, ShadowState, shadow_disagreements, shadow_state

__all__ = [
    "Agreement",
    "LiveAccuracy",
    "ShadowState",
    "alert_get_for_user",
    "alerts_for_model",
    "alerts_visible",
    "app_token_get_for_user",
    "app_tokens_for_model",
    "batch_job_files_deleted_at",
    "batch_job_get_for_caller",
    "batch_jobs_for_model",
    "corrected_dataset_count",
    "corrected_dataset_signature",
    "corrected_rows",
    "drift_rank",
    "drift_report",
    "feature_histogram",
    "hourly_series",
    "live_accuracy",
    "live_accuracy_served",
    "monitored_version",
    "monitoring_settings_for",
    "prediction_get_for_caller",
    "prediction_stats",
    "relabel_disputed_items",
    "relabel_item_explanation",
    "relabel_item_get_for_user",
    "relabel_item_payload",
    "relabel_labels_today",
    "relabel_model_get_for_user",
    "relabel_policy_for",
    "relabel_queue_counts",
    "relabel_queues_for_user",
    "served_versions",
    "shadow_disagreements",
    "shadow_state",
    "user_can_label",
    "user_can_settle",
    "user_labels_anywhere",
    "window_parse",
]
