"""Every write in scoring. Keyword-only arguments, ``actor`` always passed, one transaction
each, one audit row each. One module per capability; this package re-exports them."""

from scoring.services.app_tokens import app_token_create, app_token_revoke
from scoring.services.batch import (
    batch_job_create,
    batch_job_fail,
    batch_job_finish,
    batch_job_progress,
    batch_job_start,
    batch_jobs_sweep_stuck,
)
from scoring.services.labels import ground_truth_write, label_check

__all__ = [
    "app_token_create",
    "app_token_revoke",
    "batch_job_create",
    "batch_job_fail",
    "batch_job_finish",
    "batch_job_progress",
    "batch_job_start",
    "batch_jobs_sweep_stuck",
    "ground_truth_write",
    "label_check",
]
