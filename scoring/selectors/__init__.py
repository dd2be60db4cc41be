"""Scoring reads, already cut to what the user may see. One module per capability; this
package re-exports them."""

from scoring.selectors.app_tokens import app_token_get_for_user, app_tokens_for_model
from scoring.selectors.batch import batch_job_get_for_caller, batch_jobs_for_model

__all__ = [
    "app_token_get_for_user",
    "app_tokens_for_model",
    "batch_job_get_for_caller",
    "batch_jobs_for_model",
]
