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
        AuditEvent.objects.filter(model_version=version, action__startswith="version.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[:3] == ["version.upload", "version.validation_started", "version.validated"]

    # The compiled-form check follows validation as its own job in the same worker.
    checked = wait_for(
        lambda: ModelVersion.objects.filter(pk=version.pk, compiled_check="done").first(),
        timeout=90,
        what="the compiled check to finish",
    )
    assert checked.compiled_evidence["rows_checked"] > 0
    assert checked.serving_runtime == checked.compiled_evidence["runtime"]
    actions = list(
        AuditEvent.objects.filter(model_version=version, action__startswith="version.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[3:] == ["version.compiled_check_started", "version.serving_runtime"]

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


def test_a_segfaulting_model_fails_validation_and_the_worker_goes_on_with_the_next_version(
    transactional_db, celery_worker_process, api, owner
):
    from tests.releases import sandbox_models as sm

    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    crashing, crashing_csv = sm.segfaulting_tree()
    response = mf.upload(api(owner), crashing, evaluation_data=crashing_csv, target="y")
    assert response.status_code == 201, response.json()
    bad = _wait_final(ModelVersion.objects.get(registered_model=model, version=1).pk)

    assert bad.status == VersionStatus.VALIDATION_FAILED
    # "crashed" from the sandbox; once the fitted-structure checks catch this tree before it
    # predicts, the policy's own refusal ("invalid_tree"). Never a stuck version either way.
    assert bad.validation_report["error_code"] in {"crashed", "invalid_tree"}
    if bad.validation_report["error_code"] == "crashed":
        assert bad.validation_report["failed_stage"] == "evaluating"
        assert bad.validation_error.startswith("The model crashed while evaluating")
    assert "/" not in bad.validation_error and "Traceback" not in bad.validation_error
    assert celery_worker_process.poll() is None  # the worker survived

    artifact, csv = _pipeline_and_csv()
    response = mf.upload(api(owner), artifact, evaluation_data=csv, target="label")
    assert response.status_code == 201, response.json()
    good = _wait_final(ModelVersion.objects.get(registered_model=model, version=2).pk)
    assert good.status == VersionStatus.VALIDATED, good.validation_error
    assert celery_worker_process.poll() is None


def test_a_csv_becomes_the_standing_evaluation_set_only_when_a_version_validates_on_it(
    transactional_db, celery_worker_process, api, owner
):
    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    artifact, csv = _pipeline_and_csv()
    client = api(owner)

    assert mf.upload(client, artifact, evaluation_data=csv, target="label").status_code == 201
    v1 = _wait_final(ModelVersion.objects.get(registered_model=model, version=1).pk)
    assert v1.status == VersionStatus.VALIDATED, v1.validation_error
    model.refresh_from_db()
    assert model.evaluation_dataset == v1.evaluation_dataset is not None
    assert AuditEvent.objects.filter(
        registered_model=model, action="model.evaluation_set", actor=None
    ).exists()

    wrong_csv = b"income,label\n50,good\n60,bad\n"
    response = mf.upload(client, artifact, evaluation_data=wrong_csv, target="label")
    assert response.status_code == 201, response.json()
    v2 = _wait_final(ModelVersion.objects.get(registered_model=model, version=2).pk)
    assert v2.status == VersionStatus.VALIDATION_FAILED
    assert v2.evaluation_dataset != v1.evaluation_dataset  # recorded on the version ...
    model.refresh_from_db()
    assert model.evaluation_dataset == v1.evaluation_dataset  # ... but not the standard

    # The next upload without a CSV is measured on the standing set and validates.
    assert mf.upload(client, artifact).status_code == 201
    v3 = _wait_final(ModelVersion.objects.get(registered_model=model, version=3).pk)
    assert v3.status == VersionStatus.VALIDATED, v3.validation_error
    assert v3.evaluation_dataset == v1.evaluation_dataset
    assert v3.validation_report["evaluation"]["rows"] == 300


def test_a_version_whose_retries_run_out_ends_validation_failed_with_audit_records(
    db, api, owner, media_root, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from releases.tasks import GAVE_UP_MESSAGE, validate_model_version

    RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    artifact, csv = _pipeline_and_csv()
    with django_capture_on_commit_callbacks(execute=False):
        response = mf.upload(api(owner), artifact, evaluation_data=csv, target="label")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get()
    default_storage.delete(version.artifact.name)  # every attempt now fails with an OSError

    # Celery's own retry machinery, run eagerly: each retry re-runs the task in place.
    validate_model_version.apply(kwargs={"version_id": version.pk})

    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATION_FAILED
    assert version.validation_error == GAVE_UP_MESSAGE
    assert version.validation_report["error_code"] == "unavailable"
    actions = list(
        AuditEvent.objects.filter(model_version=version)
        .order_by("id")
        .values_list("action", flat=True)
    )
    retries = validate_model_version.max_retries
    assert actions == [
        "version.upload",
        *["version.validation_started", "version.validation_reset"] * retries,
        "version.validation_started",
        "version.validation_failed",
    ]
    resets = AuditEvent.objects.filter(model_version=version, action="version.validation_reset")
    assert sorted(e.payload["attempt"] for e in resets) == list(range(1, retries + 1))
    assert {e.payload["reason"] for e in resets} == {"file storage unavailable"}


def test_a_task_that_fails_outright_does_not_leave_its_version_pending(db, risk_model):
    from releases.tasks import validate_model_version
    from tests.factories import ModelVersionFactory

    version = ModelVersionFactory(registered_model=risk_model, status=VersionStatus.PENDING)
    # What Celery calls when the task raised after its last retry (e.g. the database was down
    # while starting it).
    validate_model_version.on_failure(
        ConnectionError("gone"), "task-id", (), {"version_id": version.pk}, None
    )
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATION_FAILED
    assert "after several attempts" in version.validation_error
    assert AuditEvent.objects.filter(
        model_version=version, action="version.validation_failed"
    ).exists()


# Here, not under tests/explain: the session's worker must start after the browser tests that
# expect an upload to stay pending (tests/explain sorts first).
def test_a_validated_upload_gets_its_shap_report_from_the_real_worker(
    transactional_db, celery_worker_process, api, owner
):
    from explain.models import ShapReport, ShapReportStatus

    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    artifact, csv = _pipeline_and_csv()
    response = mf.upload(api(owner), artifact, evaluation_data=csv, target="label")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(registered_model=model, version=1)

    report = wait_for(
        lambda: ShapReport.objects.filter(
            model_version=version, status__in=[ShapReportStatus.DONE, ShapReportStatus.FAILED]
        ).first(),
        timeout=120,
        what="the SHAP report",
    )
    assert report.status == ShapReportStatus.DONE, report.error
    assert report.explainer == "linear"
    assert set(report.importance) == {"income", "age", "region"}
    assert report.summary["additivity"]["ok"] is True
