"""Every write in scoring. Keyword-only arguments, ``actor`` always passed, one transaction
each, one audit row each. One module per capability; this package re-exports them."""

from scoring.services.app_tokens import app_token_create, app_token_revoke
from scoring.services.labels import ground_truth_write, label_check
from scoring.services.shadow import shadow_mode_set

__all__ = [
    "app_token_create",
    "app_token_revoke",
    "ground_truth_write",
    "label_check",
    "shadow_mode_set",
]
