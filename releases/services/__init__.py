"""Every write in the registry. Keyword-only arguments, ``actor`` always passed, one transaction
each, and an audit row for every action."""

from releases.services.audit import audit_record
from releases.services.compiled import (
    compiled_check_fail,
    compiled_check_finish,
    compiled_check_start,
    compiled_checks_sweep_stuck,
)
from releases.services.inputs import sandbox_limits, trusted_type_allowlist
from releases.services.lifecycle import (
    enqueue_validation,
    model_version_abandon_validation,
    model_version_finish_validation,
    model_version_report_stage,
    model_version_rerun_validation,
    model_version_reset_validation,
    model_version_start_validation,
)
from releases.services.people import (
    api_token_rotate,
    api_tokens_revoke,
    membership_add,
    membership_change_role,
    membership_remove,
    team_create,
    team_get_or_create,
    team_update,
    user_upsert,
)
from releases.services.registry import (
    model_version_trust_types,
    model_version_upload,
    registered_model_create,
    registered_model_update,
)
from releases.services.review import (
    model_version_archive,
    model_version_promote,
    model_version_review,
    registered_model_rollback,
    registered_model_set_required_approvals,
)
from releases.services.sweeper import model_versions_sweep_stuck
from releases.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_deliveries_enqueue,
    webhook_delivery_attempt,
    webhook_retry_delay,
)

__all__ = [
    "api_token_rotate",
    "api_tokens_revoke",
    "audit_record",
    "compiled_check_fail",
    "compiled_check_finish",
    "compiled_check_start",
    "compiled_checks_sweep_stuck",
    "enqueue_validation",
    "membership_add",
    "membership_change_role",
    "membership_remove",
    "model_version_abandon_validation",
    "model_version_archive",
    "model_version_finish_validation",
    "model_version_promote",
    "model_version_report_stage",
    "model_version_rerun_validation",
    "model_version_reset_validation",
    "model_version_review",
    "model_version_start_validation",
    "model_version_trust_types",
    "model_version_upload",
    "model_versions_sweep_stuck",
    "registered_model_create",
    "registered_model_rollback",
    "registered_model_set_required_approvals",
    "registered_model_update",
    "sandbox_limits",
    "team_create",
    "team_get_or_create",
    "team_update",
    "trusted_type_allowlist",
    "user_upsert",
    "webhook_create",
    "webhook_delete",
    "webhook_deliveries_enqueue",
    "webhook_delivery_attempt",
    "webhook_retry_delay",
]
