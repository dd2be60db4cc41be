"""Validated versions with real, stored models and evaluation sets, for explain's tests."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from releases.models import EvaluationDataset, ModelVersion, RegisteredModel
from releases.signature import infer_signature

TREE = "sklearn.tree._tree.Tree"  # skops reports it untrusted for every tree model


def credit_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 80, n).astype(float),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    target = np.where(frame["income"] + (frame["region"] == "south") * 8 > 53, "bad", "good")
    return frame, target


def forest_pipeline(frame: pd.DataFrame, target: Any, trees: int = 20) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["income", "age"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", RandomForestClassifier(trees, random_state=0))]).fit(
        frame, target
    )


def stored_version(
    model: RegisteredModel,
    number: int,
    estimator: Any,
    frame: pd.DataFrame,
    target: Any,
    *,
    status: str = "validated",
    with_dataset: bool = True,
    **fields: Any,
) -> ModelVersion:
    """A version whose skops file and evaluation CSV are in storage, with its signature."""
    import skops.io as sio

    data = sio.dumps(estimator)
    digest = hashlib.sha256(data).hexdigest()
    name = f"artifacts/{digest[:2]}/{digest}.skops"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    dataset = None
    if with_dataset:
        buffer = io.StringIO()
        frame.assign(label=target).to_csv(buffer, index=False)
        csv = buffer.getvalue().encode()
        csv_sha = hashlib.sha256(csv).hexdigest()
        csv_name = f"datasets/{csv_sha[:2]}/{csv_sha}.csv"
        if not default_storage.exists(csv_name):
            csv_name = default_storage.save(csv_name, ContentFile(csv))
        dataset = EvaluationDataset.objects.create(
            registered_model=model, file=csv_name, original_name="eval.csv", sha256=csv_sha,
            size=len(csv), target="label", n_rows=len(frame), columns=[*frame.columns, "label"],
        )  # fmt: skip
    return ModelVersion.objects.create(
        registered_model=model, version=number, status=status, artifact=name, sha256=digest,
        size=len(data), format="skops", evaluation_dataset=dataset,
        signature=infer_signature(estimator=estimator, evaluation=frame, target="label"),
        trusted_types=[TREE], **fields,
    )  # fmt: skip


def in_stage(version: ModelVersion, stage: str = "production") -> ModelVersion:
    """Put an approved version in a stage, as promotion leaves it (rows only)."""
    from django.utils import timezone

    from releases.models import StageAssignment

    ModelVersion.objects.filter(pk=version.pk).update(status="approved")
    StageAssignment.objects.update_or_create(
        registered_model=version.registered_model,
        stage=stage,
        defaults={"model_version": version, "assigned_at": timezone.now()},
    )
    version.refresh_from_db()
    return version


SCRIPT = "<script>alert(1)</script>"


def script_named_version(model: RegisteredModel, number: int = 1, seed: int = 0) -> ModelVersion:
    """A validated forest whose most important feature is named like markup."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            SCRIPT: rng.normal(size=200),
            "tenure": rng.normal(size=200),
            "plan": rng.choice(["basic", "pro"], 200),
        }
    )
    target = np.where(frame[SCRIPT] > 0, "churn", "stay")
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = ColumnTransformer([("cat", OneHotEncoder(), ["plan"])], remainder="passthrough")
    estimator = Pipeline(
        [("prep", prep), ("clf", RandomForestClassifier(10, random_state=seed))]
    ).fit(frame, target)
    return stored_version(model, number, estimator, frame, target)


def done_report(version: ModelVersion) -> Any:
    """Compute the version's report in this process (the job's computation without the
    sandbox) and store it through the services, as the job does."""
    from explain import services, shap_report
    from releases.loading import load_version_model

    features = [f["name"] for f in version.signature["features"]]
    with default_storage.open(version.evaluation_dataset.file.name, "rb") as fh:
        frame = pd.read_csv(fh)
    model = load_version_model(version).model
    explained = shap_report.explain(model=model, features=features, sample=frame, background=frame)
    matrix, categories = shap_report.feature_matrix(frame, features)
    summary = {**shap_report.summary(explained), "categories": categories}
    services.shap_report_start(version_id=version.pk)
    return services.shap_report_finish(
        version_id=version.pk,
        summary=summary,
        arrays={
            "values": explained.values,
            "base_values": explained.base_values,
            "outputs": explained.outputs_explained,
            "feature_values": matrix,
        },
        seconds=explained.seconds,
    )
