"""How sure a classifier was of one prediction, and a reproducible coin for random sampling.

Plain compute: no Django. Every strategy is read as a *certainty* in [0, 1] so one threshold
means the same thing for all of them ("route when certainty is below the threshold"), and the
queue orders and shows ``1 - certainty`` as the item's uncertainty.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

STRATEGIES = ("least_confidence", "margin", "entropy")
_DRAW_BITS = 56  # the low bits of a uuid4 are random (version and variant bits sit higher)


def certainty(probabilities: Sequence[float], strategy: str) -> float:
    """least_confidence: the top probability; margin: top minus second; entropy: one minus
    the entropy of the probabilities divided by its maximum, log(number of classes)."""
    probs = [float(p) for p in probabilities if p is not None and math.isfinite(float(p))]
    if not probs:
        return 1.0
    if strategy == "least_confidence":
        return max(probs)
    if strategy == "margin":
        top = sorted(probs, reverse=True)
        return top[0] - (top[1] if len(top) > 1 else 0.0)
    if strategy == "entropy":
        if len(probs) < 2:
            return 1.0
        entropy = -sum(p * math.log(p) for p in probs if p > 0)
        return max(0.0, 1.0 - entropy / math.log(len(probs)))
    raise ValueError(f"unknown uncertainty strategy {strategy!r}; use one of {STRATEGIES}")


def draw(prediction_id: uuid.UUID) -> float:
    """A number in [0, 1) fixed by the prediction id: the random sample is uniform (ids are
    random) yet reproducible, so routing the same rows twice picks the same ones."""
    return (prediction_id.int & ((1 << _DRAW_BITS) - 1)) / (1 << _DRAW_BITS)
