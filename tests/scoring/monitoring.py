"""Rows for monitoring tests: a served classifier with a reference in storage, and synthetic
logged traffic bulk-inserted hour by hour."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from releases.models import ModelVersion, RegisteredModel, StageAssignment
from scoring.models import Prediction
from tests.factories import EvaluationDatasetFactory, ModelVersionFactory

CITIES = ["lisbon", "porto", "braga", "faro"]
SIGNATURE = {
    "task": "classification",
    "classes": [0, 1],
    "features": [
        {"name": "a", "type": "numeric"},
        {"name": "b", "type": "numeric"},
        {"name": "c", "type": "numeric"},
        {"name": "city", "type": "categorical", "categories": CITIES},
    ],
}


def frame(rng: np.random.Generator, n: int, *, shift_b: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": rng.normal(0, 1, n),
            "b": rng.normal(shift_b, 1, n),
            "c": rng.uniform(0, 10, n),
            "city": rng.choice(CITIES, n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def served_version(
    model: RegisteredModel, owner: Any, *, reference_rows: int = 800, seed: int = 11
) -> tuple[ModelVersion, pd.DataFrame]:
    """A production version of ``model`` whose evaluation CSV (the reference) is in storage."""
    reference = frame(np.random.default_rng(seed), reference_rows)
    csv = reference.assign(label=(reference["a"] > 0).astype(int)).to_csv(index=False)
    name = default_storage.save(f"datasets/{uuid.uuid4().hex}.csv", ContentFile(csv.encode()))
    dataset = EvaluationDatasetFactory(
        registered_model=model, file=name, n_rows=reference_rows, target="label",
        columns=["a", "b", "c", "city", "label"],
    )  # fmt: skip
    version = ModelVersionFactory(
        registered_model=model, status="approved", signature=SIGNATURE,
        evaluation_dataset=dataset, uploaded_by=owner,
    )  # fmt: skip
    StageAssignment.objects.create(
        registered_model=model, stage="production", model_version=version,
        assigned_by=owner, assigned_at=timezone.now(),
    )  # fmt: skip
    return version, reference


def log_hour(
    version: ModelVersion,
    hour: datetime,
    inputs: pd.DataFrame,
    *,
    missing: tuple[str, ...] = (),
    confidence: float = 0.9,
    span: timedelta = timedelta(hours=1),
) -> list[Prediction]:
    """Log one row per input, spread over ``span`` from ``hour`` on."""
    step = span / max(len(inputs), 1)
    rows = []
    for i, record in enumerate(inputs.to_dict("records")):
        record = {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}
        for name in missing:
            record[name] = None
        rows.append(
            Prediction(
                request_id=uuid.uuid4(), registered_model_id=version.registered_model_id,
                model_version=version, inputs=record, prediction=int(i % 2),
                probabilities=[confidence, 1 - confidence], confidence=confidence,
                latency_ms=3.0, caller="app:1", created_at=hour + step * i,
            )
        )  # fmt: skip
    return Prediction.objects.bulk_create(rows, batch_size=1000)


def past_hour(hours_ago: int) -> datetime:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago)
