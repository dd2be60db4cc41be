"""End to end: an upload through the API is validated by a real Celery worker process."""

from __future__ import annotations

import pytest

from releases.models import AuditEvent, ModelVersion, VersionStatus
from tests.conftest import wait_for
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.releases import model_files as mf

pytestmark = pytest.mark.worker

FINAL = {VersionStatus.VALIDATED, VersionStatus.VALIDATION_FAILED}


def _pipeline_and_csv():
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, 300),
            "age": rng.integers(18, 80, 300),
            "region": rng.choice(["north", "south", "east"], 300),
        }
    )
    y = np.where(frame["income"] + (frame["region"] == "south") * 5 > 52, "bad", "good")
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["income", "age"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, y)
    csv = frame.assign(label=y).to_csv(index=False).encode()
    return sio.dumps(model), csv


def _wait_final(version_id: int) -> ModelVersion:
    return wait_for(
        lambda: ModelVersion.objects.filter(pk=version_id, status__in=FINAL).first(),
        timeout=90,
        what=f"version {version_id} to finish validating",
    )


def test_uploaded_pipeline_is_validated_by_the_worker_with_signature_and_metrics(
    transactional_db, celery_worker_process, api, owner
):
    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    artifact, csv = _pipeline_and_csv()
    response = mf.upload(api(owner), artifact, evaluation_data=csv, target="label")
    assert response.status_code == 201, response.json()
    version = _wait_final(ModelVersion.objects.get(registered_model=model, version=1).pk)

    assert version.status == VersionStatus.VALIDATED, version.validation_error
    assert version.estimator_class == "sklearn.pipeline.Pipeline"
    features = {f["name"]: f for f in version.signature["features"]}
    assert features["income"]["type"] == "numeric"
    assert features["region"]["type"] == "categorical"
    assert features["region"]["categories"] == ["east", "north", "south"]
    assert version.signature["task"] == "classification"
    assert version.signature["classes"] == ["bad", "good"]
    metrics = version.validation_report["evaluation"]["metrics"]
    assert 0.8 < metrics["accuracy"] <= 1.0
    assert version.library_versions["scikit-learn"]
    actions = list(
        AuditEvent.objects.filter(model_version=version)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["version.upload", "version.validation_started", "version.validated"]

    # The API reports what the worker found.
    body = api(owner).get(f"/api/v1/models/{model.name}/versions/1/").json()
    assert body["status"] == "validated"
    assert body["validation_report"]["stage"] == "done"


def test_evaluation_data_missing_the_models_features_fails_validation_with_a_reason(
    transactional_db, celery_worker_process, api, owner
):
    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    artifact, _ = _pipeline_and_csv()
    wrong_csv = b"income,label\n50,good\n60,bad\n"
    response = mf.upload(api(owner), artifact, evaluation_data=wrong_csv, target="label")
    assert response.status_code == 201, response.json()
    version = _wait_final(ModelVersion.objects.get(registered_model=model, version=1).pk)
    assert version.status == VersionStatus.VALIDATION_FAILED
    assert "missing the model's features: age, region" in version.validation_error


def test_untrusted_types_wait_for_a_reviewer_then_validate(
    transactional_db, celery_worker_process, api, owner, reviewer
):
    import numpy as np
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    X = np.random.default_rng(1).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    knn = sio.dumps(KNeighborsClassifier(algorithm="kd_tree").fit(X, y))
    model = RegisteredModelFactory(name="knn", team=TeamFactory(name="risk"))
    response = mf.upload(api(owner), knn, url="/api/v1/models/knn/versions/")
    assert response.status_code == 201
    pending = response.json()["pending_trust"]
    assert "sklearn.neighbors._kd_tree.KDTree" in pending

    version = ModelVersion.objects.get(registered_model=model, version=1)
    # Nothing is loaded while types await trust.
    assert version.status == VersionStatus.PENDING
    trusted = api(reviewer).post(
        "/api/v1/models/knn/versions/1/trust", {"types": pending}, format="json"
    )
    assert trusted.status_code == 200, trusted.json()
    version = _wait_final(version.pk)
    assert version.status == VersionStatus.VALIDATED, version.validation_error
    assert AuditEvent.objects.filter(
        model_version=version, action="version.trust_types", actor=reviewer
    ).exists()
