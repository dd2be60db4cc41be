"""Every write in scoring. Keyword-only arguments, ``actor`` always passed, one transaction
each, one audit row each. One module per capability; this package re-exports them."""

from scoring.services.alerts import alert_acknowledge, alerts_evaluate, monitoring_settings_update
from scoring.services.app_tokens import app_token_create, app_token_revoke
from scoring.services.batch import (
    batch_job_create,
    batch_job_fail,
    batch_job_finish,
    batch_job_progress,
    batch_job_start,
    batch_jobs_expire_files,
    batch_jobs_sweep_stuck,
)
from scoring.services.corrected_dataset import corrected_dataset_use_as_evaluation_set
from scoring.services.feedback import prediction_feedback_record
from scoring.services.labels import ground_truth_write, label_check
from scoring.services.monitoring import monitor_run, reference_freeze, version_aggregate
from scoring.services.relabel import (
    relabel_item_label,
    relabel_item_lease_next,
    relabel_item_settle,
    relabel_item_skip,
)
from scoring.services.relabel_policy import relabel_policy_update
from scoring.services.shadow import shadow_mode_set

__all__ = [
    "alert_acknowledge",
    "alerts_evaluate",
    "app_token_create",
    "app_token_revoke",
    "batch_job_create",
    "batch_job_fail",
    "batch_job_finish",
    "batch_job_progress",
    "batch_job_start",
    "batch_jobs_expire_files",
    "batch_jobs_sweep_stuck",
    "corrected_dataset_use_as_evaluation_set",
    "ground_truth_write",
    "label_check",
    "monitor_run",
    "monitoring_settings_update",
    "prediction_feedback_record",
    "reference_freeze",
    "relabel_item_label",
    "relabel_item_lease_next",
    "relabel_item_settle",
    "relabel_item_skip",
    "relabel_policy_update",
    "shadow_mode_set",
    "version_aggregate",
]
