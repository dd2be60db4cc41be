"""Rows for relabel tests: a served classifier whose logged predictions sit in its queue."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from releases.models import ModelVersion, RegisteredModel
from scoring.models import Prediction, RelabelItem
from tests.factories import PredictionFactory

CLASSES = ["churn", "stay"]
SIGNATURE = {
    "task": "classification",
    "classes": CLASSES,
    "features": [{"name": "age", "type": "number"}, {"name": "city", "type": "string"}],
}


def random_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows shaped like tests.releases.model_files.tabular(), spread wider."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 15, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": rng.choice(["basic", "pro"], n),
        }
    )


def queue(
    version: ModelVersion, n: int, *, reason: str = "uncertain", labels_needed: int = 1
) -> list[RelabelItem]:
    """``n`` open items of ``version``, oldest first (predictions made as the log makes them)."""
    model: RegisteredModel = version.registered_model
    items = []
    for i in range(n):
        prediction: Prediction = PredictionFactory(
            model_version=version, registered_model=model, inputs={"age": 30.0 + i, "city": "lyon"},
            prediction="stay", probabilities=[0.45, 0.55], confidence=0.55,
        )  # fmt: skip
        items.append(
            RelabelItem.objects.create(
                prediction=prediction,
                registered_model=model,
                model_version=version,
                reason=reason,
                uncertainty=0.45,
                labels_needed=labels_needed,
            )
        )
    return items


def version_of(model: RegisteredModel) -> ModelVersion:
    """An approved classifier version with classes churn / stay (no stored file needed)."""
    from tests.factories import ModelVersionFactory

    return ModelVersionFactory(registered_model=model, status="approved", signature=SIGNATURE)


def labelers(n: int, team: str = "risk") -> list[Any]:
    from releases.models import Role
    from tests.factories import member

    return [member(f"labeler{i}", Role.LABELER, team) for i in range(n)]
