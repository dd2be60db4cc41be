"""Every write in the registry. Keyword-only arguments, ``actor`` always passed, one transaction
each, and an audit row for every action."""

from releases.services.audit import audit_record
from releases.services.inputs import trusted_type_allowlist
from releases.services.lifecycle import (
    model_version_finish_validation,
    model_version_report_stage,
    model_version_reset_validation,
    model_version_start_validation,
)
from releases.services.people import team_get_or_create, user_token_rotate, user_upsert
from releases.services.registry import (
    model_version_trust_types,
    model_version_upload,
    registered_model_create,
    registered_model_update,
)

__all__ = [
    "audit_record",
    "model_version_finish_validation",
    "model_version_report_stage",
    "model_version_reset_validation",
    "model_version_start_validation",
    "model_version_trust_types",
    "model_version_upload",
    "registered_model_create",
    "registered_model_update",
    "team_get_or_create",
    "trusted_type_allowlist",
    "user_token_rotate",
    "user_upsert",
]
