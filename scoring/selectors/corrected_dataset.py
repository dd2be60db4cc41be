"""Reads behind a model's corrected dataset: which signature shapes it, and its rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from releases.models import ModelVersion, RegisteredModel, VersionStatus
from releases.selectors import production_version
from scoring.models import GroundTruth


def corrected_dataset_signature(*, registered_model: RegisteredModel) -> dict[str, Any] | None:
    """The features the dataset is laid out by: production's signature (what apps send now),
    else the newest validated or approved version's; None before any version validated."""
    serving = production_version(registered_model=registered_model)
    if serving is not None and serving.signature:
        return dict(serving.signature)
    newest = (
        ModelVersion.objects.filter(
            registered_model=registered_model,
            status__in=[VersionStatus.VALIDATED, VersionStatus.APPROVED],
        )
        .exclude(signature={})
        .order_by("-version")
        .values_list("signature", flat=True)
        .first()
    )
    return dict(newest) if newest else None


def corrected_dataset_count(*, registered_model: RegisteredModel) -> int:
    return GroundTruth.objects.filter(registered_model=registered_model).count()


def corrected_rows(
    *, registered_model: RegisteredModel, limit: int | None = None
) -> Iterator[tuple[dict[str, Any], Any]]:
    """(logged inputs, true label) of every labeled prediction of the model, newest label first,
    read in chunks so a large dataset never sits in memory."""
    rows = (
        GroundTruth.objects.filter(registered_model=registered_model)
        .order_by("-labeled_at", "-prediction_id")  # the (model, labeled_at) index
        .values_list("prediction__inputs", "label")
    )
    if limit is not None:
        rows = rows[:limit]
    yield from rows.iterator(chunk_size=2_000)
