"""Routing: which freshly logged predictions enter their model's relabel queue.

Runs in the prediction-log flusher right after it writes rows (never on the request path): one
cached policy per model (``MODELGATE_RELABEL_POLICY_TTL_SECONDS``), the certainty computed from
the stored probabilities (``scoring.uncertainty``), the random sample drawn from the prediction
id, and one ``bulk_create`` of the items. Routing the same rows twice adds nothing (one item per
prediction, conflicts ignored).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DatabaseError

from scoring import uncertainty
from scoring.models import (
    Prediction,
    RegressionRule,
    RelabelItem,
    RelabelPolicy,
    RelabelReason,
)


class Logged(NamedTuple):
    """What routing reads of a just-written prediction (the flusher has no model objects: it
    inserts rows directly, and building a ``Prediction`` per row would cost more than routing)."""

    id: uuid.UUID
    registered_model_id: int
    model_version_id: int
    prediction: Any
    probabilities: list[float] | None


@dataclass(frozen=True)
class Rules:
    """The routing part of a policy, detached from the database row."""

    enabled: bool
    strategy: str
    threshold: float
    sample_rate: float
    regression_rule: str
    regression_min: float | None
    regression_max: float | None
    labels_per_item: int
    lease_seconds: int | None
    skips_to_close: int = 3
    stored: bool = False  # the team saved a policy (else these are the defaults)

    @classmethod
    def of(cls, policy: RelabelPolicy) -> Rules:
        return cls(
            stored=policy.pk is not None,
            enabled=policy.enabled,
            strategy=policy.strategy,
            threshold=policy.threshold,
            sample_rate=policy.sample_rate,
            regression_rule=policy.regression_rule,
            regression_min=policy.regression_min,
            regression_max=policy.regression_max,
            labels_per_item=policy.labels_per_item,
            lease_seconds=policy.lease_seconds,
            skips_to_close=policy.skips_to_close,
        )


_cache: dict[int, tuple[float, Rules]] = {}
_lock = threading.Lock()


def forget(registered_model_id: int | None = None) -> None:
    """Drop cached policies (one model's after its policy changed here; all in tests)."""
    with _lock:
        if registered_model_id is None:
            _cache.clear()
        else:
            _cache.pop(registered_model_id, None)


def rules_for(registered_model_ids: Iterable[int]) -> dict[int, Rules]:
    """The rules of each model, from the cache or with one query for the missing ones."""
    now = time.monotonic()
    found: dict[int, Rules] = {}
    missing: list[int] = []
    with _lock:
        for model_id in set(registered_model_ids):
            hit = _cache.get(model_id)
            if hit is not None and hit[0] > now:
                found[model_id] = hit[1]
            else:
                missing.append(model_id)
    if missing:
        stored = {p.registered_model_id: p for p in RelabelPolicy.objects.filter(
            registered_model_id__in=missing
        )}  # fmt: skip
        expires = now + settings.MODELGATE_RELABEL_POLICY_TTL_SECONDS
        with _lock:
            for model_id in missing:
                rules = Rules.of(stored.get(model_id) or RelabelPolicy())
                _cache[model_id] = (expires, rules)
                found[model_id] = rules
    return found


def low_confidence_threshold(registered_model_id: int) -> float:
    """THE low-confidence threshold of a model: a prediction whose confidence (top
    probability) is below it is unsure. The team's relabel policy threshold when the policy
    ranks by least confidence (the very notion that fills its queue), else
    ``MODELGATE_LOW_CONFIDENCE_THRESHOLD``. The metrics counter uses it on the request path
    (cached with the policy: a query per model per ``MODELGATE_RELABEL_POLICY_TTL_SECONDS`` at
    most) and monitoring uses it unless the model's monitoring settings name their own."""
    try:
        rules = rules_for([registered_model_id])[registered_model_id]
    except DatabaseError:  # predictions do not wait for the database; neither does this count
        return float(settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD)
    if rules.stored and rules.strategy == uncertainty.STRATEGIES[0]:
        return rules.threshold
    return float(settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD)


def decide(prediction: Logged | Prediction, rules: Rules) -> tuple[str, float | None] | None:
    """(reason, uncertainty) when the prediction should be labeled, None otherwise."""
    if not rules.enabled:
        return None
    if prediction.probabilities:
        sure = uncertainty.certainty(prediction.probabilities, rules.strategy)
        if sure < rules.threshold:
            return RelabelReason.UNCERTAIN, 1.0 - sure
        score: float | None = 1.0 - sure
    else:
        score = None
        if rules.regression_rule == RegressionRule.OUTSIDE_RANGE and _outside(prediction, rules):
            return RelabelReason.UNCERTAIN, None
    if uncertainty.draw(prediction.id) < rules.sample_rate:
        return RelabelReason.SAMPLE, score
    return None


def _outside(prediction: Logged | Prediction, rules: Rules) -> bool:
    value = prediction.prediction
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    below = rules.regression_min is not None and value < rules.regression_min
    above = rules.regression_max is not None and value > rules.regression_max
    return below or above


def route(predictions: Sequence[Logged | Prediction]) -> int:
    """Queue the predictions the policies pick; returns how many items were offered."""
    if not predictions:
        return 0
    rules = rules_for(p.registered_model_id for p in predictions)
    items = []
    for prediction in predictions:
        model_rules = rules[prediction.registered_model_id]
        decision = decide(prediction, model_rules)
        if decision is None:
            continue
        reason, score = decision
        items.append(
            RelabelItem(
                prediction_id=prediction.id,
                registered_model_id=prediction.registered_model_id,
                model_version_id=prediction.model_version_id,
                reason=reason,
                uncertainty=score,
                labels_needed=model_rules.labels_per_item,
            )
        )
    RelabelItem.objects.bulk_create(items, batch_size=1000, ignore_conflicts=True)
    return len(items)
