"""Rows for serving tests: approved versions with real models in storage, and stage moves."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from releases.models import ModelVersion, RegisteredModel, StageAssignment
from releases.signature import infer_signature
from tests.releases import model_files as mf


@cache
def forest_model() -> Any:
    """A small random forest on the mixed frame (one-hot cities and plans, scaled numbers)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, target = mf.tabular()
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), mf.CATEGORICAL)], remainder="passthrough"
    )
    model = RandomForestClassifier(n_estimators=10, random_state=0)
    return Pipeline([("pre", pre), ("model", model)]).fit(frame, target)


@cache
def skops_bytes(model: Any) -> bytes:
    import skops.io as sio

    return sio.dumps(model)


def signature_of(model: Any, *, numeric_only: bool = False) -> dict[str, Any]:
    frame, _ = mf.tabular()
    if numeric_only:
        frame = frame[mf.NUMERIC]
    return infer_signature(estimator=model, evaluation=frame, target=None)


def serve(
    registered_model: RegisteredModel,
    number: int,
    *,
    model: Any,
    uploaded_by: Any,
    status: str = "approved",
    stage: str | None = None,
    numeric_only: bool = False,
) -> ModelVersion:
    """A version of ``model`` saved in storage under its content address, in ``stage``."""
    data = skops_bytes(model)
    digest = hashlib.sha256(data).hexdigest()
    name = f"artifacts/{digest[:2]}/{digest}.skops"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    version = ModelVersion.objects.create(
        registered_model=registered_model, version=number, status=status, artifact=name,
        sha256=digest, size=len(data), format="skops", uploaded_by=uploaded_by,
        signature=signature_of(model, numeric_only=numeric_only),
        validation_report={"stage": "done"},
    )  # fmt: skip
    if stage:
        StageAssignment.objects.update_or_create(
            registered_model=registered_model, stage=stage,
            defaults={
                "model_version": version, "assigned_by": uploaded_by, "assigned_at": timezone.now()
            },
        )  # fmt: skip
    return version


@cache
def logistic_numeric() -> Any:
    from sklearn.linear_model import LogisticRegression

    frame, target = mf.tabular()
    return LogisticRegression(C=0.5).fit(frame[mf.NUMERIC], target)
