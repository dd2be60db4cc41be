"""Changing a model's relabel policy: validated, audited, and seen by routing within seconds."""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from releases.errors import Forbidden, InvalidInput
from releases.models import RegisteredModel
from releases.selectors import user_can
from releases.services.audit import audit_record
from scoring.models import RegressionRule, RelabelPolicy, RelabelStrategy

POLICY_FIELDS = (
    "enabled",
    "strategy",
    "threshold",
    "sample_rate",
    "regression_rule",
    "regression_min",
    "regression_max",
    "labels_per_item",
    "skips_to_close",
    "lease_seconds",
)
MAX_LABELS_PER_ITEM = 5
MAX_SKIPS_TO_CLOSE = 20
MAX_LEASE_SECONDS = 24 * 3600


def relabel_policy_snapshot(policy: RelabelPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def user_can_set_relabel_policy(*, user: Any, registered_model: RegisteredModel) -> bool:
    """Data scientists (who own what the model learns from), reviewers and admins."""
    return user_can(user=user, team_id=registered_model.team_id, action="operate")


def _fraction(name: str, value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"The {label} is a number between 0 and 1.", field=name)
    if not 0 <= value <= 1:
        raise InvalidInput(f"The {label} must be between 0 and 1 (got {value}).", field=name)
    return float(value)


def _optional_number(name: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} is a finite number, or empty for no bound.", field=name)
    return float(value)


def _whole(name: str, value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} is a whole number from {low} to {high}.", field=name)
    return value


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown policy setting {unknown[0]!r}; the settings are: {', '.join(POLICY_FIELDS)}.",
            field=unknown[0],
        )
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "enabled":
            if not isinstance(value, bool):
                raise InvalidInput("enabled is true or false.", field=name)
            out[name] = value
        elif name == "strategy":
            if value not in RelabelStrategy.values:
                raise InvalidInput(
                    f"Unknown strategy {value!r}; use one of: {', '.join(RelabelStrategy.values)}.",
                    field=name,
                )
            out[name] = value
        elif name == "regression_rule":
            if value not in RegressionRule.values:
                raise InvalidInput(
                    f"Unknown regression rule {value!r}; use one of: "
                    f"{', '.join(RegressionRule.values)}.",
                    field=name,
                )
            out[name] = value
        elif name == "threshold":
            out[name] = _fraction(name, value, "certainty threshold")
        elif name == "sample_rate":
            out[name] = _fraction(name, value, "random sample rate")
        elif name in ("regression_min", "regression_max"):
            out[name] = _optional_number(name, value)
        elif name == "labels_per_item":
            out[name] = _whole(name, value, 1, MAX_LABELS_PER_ITEM, "Labels per item")
        elif name == "skips_to_close":
            out[name] = _whole(name, value, 1, MAX_SKIPS_TO_CLOSE, "Skips before a reviewer")
        elif name == "lease_seconds":
            out[name] = (
                None
                if value is None or value == ""
                else _whole(name, value, 5, MAX_LEASE_SECONDS, "The lease")
            )
    return out


@transaction.atomic
def relabel_policy_update(
    *, actor: User, registered_model: RegisteredModel, changes: dict[str, Any]
) -> RelabelPolicy:
    """Change some of the model's routing settings (the others keep their values). Applies to
    predictions logged from now on; items already queued keep what they were routed with."""
    if not user_can_set_relabel_policy(user=actor, registered_model=registered_model):
        raise Forbidden(
            f"Only data scientists, reviewers and admins of team {registered_model.team.name!r} "
            "can change what enters the relabel queue."
        )
    values = _checked(changes)
    policy, _ = RelabelPolicy.objects.select_for_update().get_or_create(
        registered_model=registered_model
    )
    before = relabel_policy_snapshot(policy)
    for name, value in values.items():
        setattr(policy, name, value)
    low, high = policy.regression_min, policy.regression_max
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"regression_min ({low}) is above regression_max ({high}).", field="regression_min"
        )
    if policy.regression_rule == RegressionRule.OUTSIDE_RANGE and low is None and high is None:
        raise InvalidInput(
            "Routing regression predictions outside a range needs regression_min or "
            "regression_max.",
            field="regression_min",
        )
    after = relabel_policy_snapshot(policy)
    if after == before:
        return policy  # nothing changed: no audit row
    policy.updated_by = actor
    policy.save()
    audit_record(
        actor=actor,
        action="relabel.policy_update",
        registered_model=registered_model,
        payload={"before": before, "after": after},
    )

    def forget() -> None:
        from scoring.relabel_routing import forget

        forget(registered_model.pk)

    transaction.on_commit(forget)
    return policy
