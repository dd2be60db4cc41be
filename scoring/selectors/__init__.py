"""Scoring reads, already cut to what the user may see. One module per capability; this
package re-exports them."""

from scoring.selectors.app_tokens import app_token_get_for_user, app_tokens_for_model
from scoring.selectors.shadow import Agreement, ShadowState, shadow_disagreements, shadow_state

__all__ = [
    "Agreement",
    "ShadowState",
    "app_token_get_for_user",
    "app_tokens_for_model",
    "shadow_disagreements",
    "shadow_state",
]
