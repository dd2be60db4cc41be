"""Scoring reads, already cut to what the user may see. One module per capability; this
package re-exports them."""

from scoring.selectors.app_tokens import app_token_get_for_user, app_tokens_for_model
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

__all__ = [
    "app_token_get_for_user",
    "app_tokens_for_model",
    "relabel_disputed_items",
    "relabel_item_explanation",
    "relabel_item_get_for_user",
    "relabel_item_payload",
    "relabel_labels_today",
    "relabel_model_get_for_user",
    "relabel_policy_for",
    "relabel_queue_counts",
    "relabel_queues_for_user",
    "user_can_label",
    "user_can_settle",
    "user_labels_anywhere",
]
