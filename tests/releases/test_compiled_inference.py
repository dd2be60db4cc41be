"""Compiled inference: at validation the model is converted to ONNX and served by ONNX Runtime
only when the conversion reproduces scikit-learn on the whole evaluation set."""

from __future__ import annotations

import io
import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import default_storage

from releases.artifact_safety import load_onnx
from releases.compiled import compile_and_check, onnx_feed
from releases.loading import ArtifactChanged, clear_cache, load_serving_model, load_version_model
from releases.models import CompiledCheckStatus, ModelVersion, ServingRuntime, VersionStatus
from releases.signature import infer_signature
from releases.tasks import compiled_check_run, validate_model_version
from tests.releases import model_files as mf

warnings.filterwarnings("ignore", category=UserWarning)


@cache
def forest() -> tuple[Any, pd.DataFrame, np.ndarray]:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 6)), columns=[f"f{i}" for i in range(6)])
    labels = np.where(frame["f0"] + frame["f1"] * frame["f2"] > 0, "approve", "decline")
    model = RandomForestClassifier(n_estimators=25, random_state=0).fit(frame, labels)
    return model, frame, labels


@cache
def mixed_pipeline() -> tuple[Any, pd.DataFrame, np.ndarray]:
    """StandardScaler + string OneHotEncoder + forest, with evaluation rows placed on the
    forest's thresholds: scikit-learn compares float32(scaled x) with float64 thresholds after
    float64 scaling, which neither ONNX input type reproduces there (see FIELD-NOTES)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "reading": 1e6 + rng.normal(0, 0.05, n),
            "other": rng.normal(size=n),
            "site": rng.choice(["a", "b", "c"], n),
        }
    )
    labels = np.where((frame["reading"] - 1e6 > 0) ^ (frame["site"] == "a"), "yes", "no")
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["reading", "other"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["site"]),
        ]
    )
    model = Pipeline([("pre", pre), ("rf", RandomForestClassifier(20, random_state=0))])
    model.fit(frame, labels)
    scaler = model.named_steps["pre"].named_transformers_["num"]
    edge = [
        {
            "reading": est.tree_.threshold[node] * scaler.scale_[0] + scaler.mean_[0],
            "other": 0.0,
            "site": "b",
        }
        for est in model.named_steps["rf"].estimators_
        for node in np.flatnonzero(est.tree_.feature == 0)
    ]
    evaluation = pd.concat([frame, pd.DataFrame(edge)], ignore_index=True)
    return model, evaluation, model.predict(evaluation)


def check(model: Any, X: pd.DataFrame, tmp_path: Path) -> dict[str, Any]:
    signature = infer_signature(estimator=model, evaluation=X, target=None)
    compiled = compile_and_check(
        estimator=model,
        signature=signature,
        X=X,
        work=tmp_path,
        load_session=lambda path: load_onnx(path=path),
    )
    assert (compiled.onnx is not None) == (compiled.evidence["runtime"] == "onnx")
    return compiled.evidence


def test_a_random_forest_converts_and_is_served_by_onnx_with_evidence(tmp_path: Path) -> None:
    model, frame, _ = forest()

    evidence = check(model, frame, tmp_path)

    assert evidence["runtime"] == "onnx"
    assert evidence["rows_checked"] == 300
    assert evidence["label_agreement"] == 1.0
    assert evidence["max_proba_diff"] <= 1e-5
    assert "all 300 evaluation rows" in evidence["reason"]


def test_a_regressor_converts_within_relative_tolerance(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    _, frame, _ = forest()
    model = Ridge().fit(frame, frame["f0"] * 1000 + frame["f1"])

    evidence = check(model, frame, tmp_path)

    assert evidence["runtime"] == "onnx"
    assert evidence["max_relative_diff"] <= 1e-5


def test_a_mixed_pipeline_that_flips_labels_stays_sklearn_naming_rows_and_difference(
    tmp_path: Path,
) -> None:
    model, evaluation, _ = mixed_pipeline()

    evidence = check(model, evaluation, tmp_path)

    assert evidence["runtime"] == "sklearn"
    assert evidence["rows_checked"] == len(evaluation)
    assert evidence["label_agreement"] < 1.0
    assert evidence["max_proba_diff"] > 1e-5
    assert evidence["differing_rows"]
    assert "does not reproduce scikit-learn" in evidence["reason"]
    assert "labels differ (row " in evidence["reason"]
    assert "became" in evidence["reason"]


def test_an_estimator_skl2onnx_cannot_convert_stays_sklearn_with_the_reason(
    tmp_path: Path,
) -> None:
    from sklearn.neighbors import NearestCentroid

    _, frame, labels = forest()
    model = NearestCentroid().fit(frame, labels)

    evidence = check(model, frame, tmp_path)

    assert evidence["runtime"] == "sklearn"
    assert "skl2onnx cannot convert this model (NearestCentroid)" in evidence["reason"]


# End to end: upload, the validation task, the compiled check's own task in the sandbox, the
# stored compiled form, serving.


def csv_of(frame: pd.DataFrame, labels: np.ndarray) -> bytes:
    buffer = io.StringIO()
    frame.assign(label=labels).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def validated(api: Any, owner: Any, model: Any, frame: pd.DataFrame, labels: Any) -> ModelVersion:
    import skops.io as sio

    response = mf.upload(
        api(owner), sio.dumps(model), evaluation_data=csv_of(frame, labels), target="label"
    )
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(
        registered_model__name="credit-risk", version=response.json()["version"]
    )
    assert validate_model_version.run(version_id=version.pk) == "validated"
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATED
    return version


def checked(version: ModelVersion) -> ModelVersion:
    """Run the compiled check's task (queued on validation's commit) here."""
    assert compiled_check_run.run(version_id=version.pk) == "done"
    version.refresh_from_db()
    assert version.compiled_check == CompiledCheckStatus.DONE
    return version


@pytest.fixture
def fresh_cache() -> Any:
    clear_cache()
    yield
    clear_cache()


@pytest.mark.django_db
def test_validation_stores_the_compiled_form_and_serving_loads_an_equivalent_session(
    api: Any, owner: Any, risk_model: Any, media_root: Path, fresh_cache: Any
) -> None:
    model, frame, labels = forest()

    version = checked(validated(api, owner, model, frame, labels))

    assert version.serving_runtime == ServingRuntime.ONNX
    assert (
        version.onnx_artifact.name
        == f"artifacts/{version.onnx_sha256[:2]}/{version.onnx_sha256}.onnx"
    )
    evidence = version.compiled_evidence
    assert evidence["runtime"] == "onnx" and evidence["rows_checked"] == 300
    assert evidence["label_agreement"] == 1.0 and evidence["max_proba_diff"] <= 1e-5

    loaded = load_serving_model(version)
    assert loaded.format == "onnx" and loaded.sha256 == version.onnx_sha256
    label, proba = loaded.model.run(["label", "probabilities"], onnx_feed(loaded.model, frame))
    assert (label == model.predict(frame)).all()
    np.testing.assert_allclose(proba, model.predict_proba(frame), atol=1e-5)
    assert load_serving_model(version) is loaded  # cached per process


@pytest.mark.django_db
def test_the_compiled_check_passes_in_a_512_mb_sandbox(
    api: Any, owner: Any, risk_model: Any, media_root: Path, settings: Any
) -> None:
    """The child holds about 300 MB; under a limit on address space it failed here (ONNX
    Runtime's per-core threads, Arrow's 1 GiB arena and the libraries' code counted too)."""
    model, frame, labels = forest()
    version = validated(api, owner, model, frame, labels)
    settings.MODELGATE_SANDBOX_MEMORY_MB = 512

    version = checked(version)

    assert version.serving_runtime == ServingRuntime.ONNX
    assert version.compiled_evidence["rows_checked"] == 300


@pytest.mark.django_db
def test_a_non_reproducing_pipeline_validates_and_is_served_by_sklearn_with_the_reason(
    api: Any, owner: Any, risk_model: Any, media_root: Path, fresh_cache: Any
) -> None:
    model, evaluation, labels = mixed_pipeline()

    version = checked(validated(api, owner, model, evaluation, labels))

    assert version.serving_runtime == ServingRuntime.SKLEARN
    assert version.onnx_artifact.name == "" and version.onnx_sha256 == ""
    evidence = version.compiled_evidence
    assert evidence["runtime"] == "sklearn"
    assert evidence["label_agreement"] < 1.0
    assert "labels differ" in evidence["reason"]
    loaded = load_serving_model(version)
    assert loaded.format == "skops"
    assert (loaded.model.predict(evaluation) == model.predict(evaluation)).all()
    assert loaded is load_version_model(version)


@pytest.mark.django_db
def test_validation_finishes_without_the_compiled_check_and_the_runtime_switches_once_it_passes(
    api: Any,
    owner: Any,
    risk_model: Any,
    media_root: Path,
    fresh_cache: Any,
    client: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from releases.serving_state import serving_generation

    model, frame, labels = forest()
    with django_capture_on_commit_callbacks() as queued:
        version = validated(api, owner, model, frame, labels)

    # Validated, served by scikit-learn, and the check waits in the queue (not in validation).
    assert version.compiled_check == CompiledCheckStatus.QUEUED
    assert version.serving_runtime == ServingRuntime.SKLEARN and not version.onnx_sha256
    assert "compiling to ONNX and checking it" not in version.validation_report["timings"]
    assert "serving_runtime" not in version.validation_report
    assert any("_enqueue" in repr(callback) for callback in queued)
    assert load_serving_model(version).format == "skops"
    client.force_login(owner)
    page = client.get(f"/models/credit-risk/versions/{version.version}/").content.decode()
    assert "Checking compiled form…" in page
    assert 'data-poll="true"' in page
    before = serving_generation()

    version = checked(version)

    assert version.serving_runtime == ServingRuntime.ONNX
    assert version.compiled_evidence["rows_checked"] == 300
    assert version.compiled_evidence["job_seconds"] > 0
    assert serving_generation() > before  # serving processes drop their cached model
    assert load_serving_model(version).format == "onnx"
    assert compiled_check_run.run(version_id=version.pk) == "skipped"  # redelivery is harmless
    body = api(owner).get(f"/api/v1/models/credit-risk/versions/{version.version}/").json()
    assert body["serving_runtime"] == "onnx" and body["compiled_check"] == "done"
    assert body["compiled_evidence"]["label_agreement"] == 1.0
    page = client.get(f"/models/credit-risk/versions/{version.version}/").content.decode()
    assert "Checking compiled form…" not in page
    assert "Serving runtime: ONNX Runtime (compiled)" in page


@pytest.mark.django_db
def test_tampered_onnx_bytes_are_refused(
    api: Any, owner: Any, risk_model: Any, media_root: Path, fresh_cache: Any
) -> None:
    model, frame, labels = forest()
    version = checked(validated(api, owner, model, frame, labels))
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    # A valid ONNX model, just not the one validation proved equivalent.
    other = LogisticRegression().fit(frame.to_numpy(np.float32), labels)
    swapped = to_onnx(other, frame.to_numpy(np.float32)[:1]).SerializeToString()
    with open(default_storage.path(version.onnx_artifact.name), "wb") as fh:
        fh.write(swapped)

    with pytest.raises(ArtifactChanged, match="compiled ONNX form of version 1 no longer matches"):
        load_serving_model(version)


@pytest.mark.django_db
def test_the_version_page_says_which_runtime_serves_it_and_shows_the_evidence(
    api: Any, owner: Any, risk_model: Any, media_root: Path, client: Any
) -> None:
    model, frame, labels = forest()
    version = checked(validated(api, owner, model, frame, labels))
    client.force_login(owner)

    page = client.get(f"/models/credit-risk/versions/{version.version}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Serving runtime: ONNX Runtime (compiled)" in html
    assert "Rows checked</dt><dd>300" in html
    assert "identical on every row" in html
    assert "Largest probability difference" in html


class _Session:
    """Stands in for an ONNX Runtime session whose outputs a test chooses."""

    def __init__(self, real: Any, tamper: Any) -> None:
        self.real, self.tamper = real, tamper

    def get_inputs(self) -> Any:
        return self.real.get_inputs()

    def run(self, names: Any, feed: Any) -> Any:
        return self.tamper(self.real.run(names, feed))


def test_nan_probabilities_from_the_conversion_are_a_difference_not_agreement(
    tmp_path: Path,
) -> None:
    model, frame, _ = forest()
    signature = infer_signature(estimator=model, evaluation=frame, target=None)

    def nan_first_row(outputs: Any) -> Any:
        label, proba = outputs
        proba = proba.copy()
        proba[0, :] = np.nan
        return [label, proba]

    compiled = compile_and_check(
        estimator=model,
        signature=signature,
        X=frame,
        work=tmp_path,
        load_session=lambda path: _Session(load_onnx(path=path), nan_first_row),
    )

    assert compiled.onnx is None
    assert compiled.evidence["runtime"] == "sklearn"
    assert compiled.evidence["differing_rows"] == [0]
    assert compiled.evidence["max_proba_diff"] is None  # infinite: not a number JSON can hold
    assert (
        "probabilities differ by more than 1e-05 on 1 rows (rows 0; up to inf)"
        in (compiled.evidence["reason"])
    )
    json.dumps(compiled.evidence, allow_nan=False)


def test_a_regressor_whose_conversion_drifts_stays_sklearn_naming_the_rows(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    _, frame, _ = forest()
    model = Ridge().fit(frame, frame["f0"] * 1000 + 5000)
    signature = infer_signature(estimator=model, evaluation=frame, target=None)

    def drift(outputs: Any) -> Any:
        values = outputs[0].copy()
        values[[3, 7]] *= 1.001
        return [values]

    compiled = compile_and_check(
        estimator=model,
        signature=signature,
        X=frame,
        work=tmp_path,
        load_session=lambda path: _Session(load_onnx(path=path), drift),
    )

    assert compiled.evidence["runtime"] == "sklearn"
    assert compiled.evidence["differing_rows"] == [3, 7]
    assert (
        "2 of 300 values differ by more than 1e-05 relative (rows 3, 7"
        in (compiled.evidence["reason"])
    )


@pytest.mark.django_db
def test_served_onnx_sessions_run_on_one_thread_without_spinning(
    api: Any, owner: Any, risk_model: Any, media_root: Path, fresh_cache: Any
) -> None:
    model, frame, labels = forest()
    version = checked(validated(api, owner, model, frame, labels))

    options = load_serving_model(version).model.get_session_options()

    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.django_db
def test_a_redelivered_compiled_check_restarts_and_a_duplicate_is_skipped(risk_model: Any) -> None:
    from releases.services import compiled_check_start
    from tests.factories import ModelVersionFactory

    version = ModelVersionFactory(
        registered_model=risk_model, status=VersionStatus.VALIDATED, compiled_check="queued"
    )

    first = compiled_check_start(version_id=version.pk, task_id="task-1")
    duplicate = compiled_check_start(version_id=version.pk, task_id="task-2")
    redelivered = compiled_check_start(version_id=version.pk, task_id="task-1")

    assert first is not None and duplicate is None and redelivered is not None
    version.refresh_from_db()
    assert version.compiled_check == CompiledCheckStatus.RUNNING
    assert version.compiled_evidence == {"task_id": "task-1"}


@pytest.mark.django_db
def test_the_sweeper_queues_a_lost_compiled_check_again_then_gives_up_with_the_reason(
    risk_model: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from releases.models import AuditEvent
    from releases.services import compiled_checks_sweep_stuck
    from tests.factories import ModelVersionFactory

    version = ModelVersionFactory(
        registered_model=risk_model, status=VersionStatus.VALIDATED, compiled_check="running"
    )
    fresh = ModelVersionFactory(
        registered_model=risk_model, status=VersionStatus.VALIDATED, compiled_check="queued"
    )

    assert compiled_checks_sweep_stuck(after_seconds=3600, max_resets=2) == []
    with django_capture_on_commit_callbacks(execute=False) as queued:
        swept = compiled_checks_sweep_stuck(after_seconds=0, max_resets=2)

    assert sorted(swept) == sorted([version.pk, fresh.pk]) and len(queued) == 2
    version.refresh_from_db()
    assert version.compiled_check == CompiledCheckStatus.QUEUED
    compiled_checks_sweep_stuck(after_seconds=0, max_resets=2)
    compiled_checks_sweep_stuck(after_seconds=0, max_resets=2)
    version.refresh_from_db()
    assert version.compiled_check == CompiledCheckStatus.FAILED
    assert "started 3 times and never finished" in version.compiled_evidence["reason"]
    assert version.serving_runtime == ServingRuntime.SKLEARN
    swept_rows = AuditEvent.objects.filter(
        model_version=version, action="version.compiled_check_swept"
    )
    assert swept_rows.count() == 2


@pytest.mark.django_db
def test_a_model_uploaded_as_onnx_is_served_on_the_configured_threads(
    owner: Any, risk_model: Any, media_root: Path, fresh_cache: Any, settings: Any
) -> None:
    import hashlib

    from django.core.files.base import ContentFile
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    settings.MODELGATE_ONNX_THREADS = 2
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    data = to_onnx(fitted, X[:1], options={"zipmap": False}).SerializeToString()
    digest = hashlib.sha256(data).hexdigest()
    name = default_storage.save(f"artifacts/{digest[:2]}/{digest}.onnx", ContentFile(data))
    version = ModelVersion.objects.create(
        registered_model=risk_model, version=1, status="approved", artifact=name,
        sha256=digest, size=len(data), format="onnx", uploaded_by=owner,
        signature=infer_signature(
            estimator=fitted, evaluation=pd.DataFrame(X, columns=["a", "b", "c"]), target=None
        ),
    )  # fmt: skip

    options = load_serving_model(version).model.get_session_options()

    # Before, an uploaded ONNX model got ONNX Runtime's default pool: a spinning thread per core
    # in every gunicorn thread of every worker.
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
