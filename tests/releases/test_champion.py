"""Champion vs challenger: the production version and the candidate predict on the same rows
in the same sandboxed child; the comparison, the disagreement CSV and the gates are stored."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from releases import metric_direction
from releases.models import AuditEvent, ModelVersion, VersionStatus
from releases.sandbox import SandboxLimits
from releases.sandbox.validation import ProductionInput, validate_in_sandbox
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.releases import model_files as mf

LIMITS = {
    "max_rows": 100_000,
    "max_uncompressed_bytes": 50 * 1024**2,
    "max_entries": 10_000,
    "max_schema_bytes": 10 * 1024**2,
}


@cache
def _data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 80, n),
            # A category that a spreadsheet would run as a formula.
            "region": rng.choice(["north", "south", "=SUM(1)"], n),
        }
    )
    noise = rng.normal(0, 4, n)
    frame["label"] = np.where(
        frame["income"] + (frame["region"] == "south") * 5 + noise > 52, "bad", "good"
    )
    return frame


def _pipeline(classifier) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["income", "age"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    frame = _data()
    return Pipeline([("prep", prep), ("clf", classifier)]).fit(
        frame.drop(columns="label"), frame["label"]
    )


@cache
def _champion() -> Pipeline:
    return _pipeline(LogisticRegression(C=0.05))


@cache
def _challenger() -> Pipeline:
    return _pipeline(RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0))


def test_champion_and_challenger_predict_on_the_same_rows_in_one_sandboxed_child(tmp_path):
    frame = _data()
    X, y = frame.drop(columns="label"), frame["label"].to_numpy()
    (tmp_path / "candidate.skops").write_bytes(sio.dumps(_challenger()))
    (tmp_path / "production.skops").write_bytes(sio.dumps(_champion()))
    frame.to_csv(tmp_path / "eval.csv", index=False)
    stages: list[str] = []
    arrays: dict = {}
    report = validate_in_sandbox(
        artifact_path=tmp_path / "candidate.skops", artifact_format="skops", trusted=set(),
        evaluation_path=tmp_path / "eval.csv", target="label", limits=SandboxLimits(),
        production=ProductionInput(
            path=tmp_path / "production.skops", artifact_format="skops", trusted=set(), version=3
        ),
        on_stage=stages.append, disagreements=arrays, **LIMITS,
    )  # fmt: skip
    assert "comparing with production" in stages

    cand, prod = _challenger().predict(X), _champion().predict(X)
    comparison = report["comparison"]
    assert comparison["against_version"] == 3 and comparison["rows"] == len(frame)
    assert comparison["agreement_rate"] == pytest.approx(np.mean(cand == prod))
    assert comparison["disagreements"] == int((cand != prod).sum()) > 0
    np.testing.assert_array_equal(arrays["positions"], np.flatnonzero(cand != prod))
    np.testing.assert_array_equal(arrays["production"], prod[cand != prod])

    accuracy = comparison["metrics"]["accuracy"]
    expected_c, expected_p = metrics.accuracy_score(y, cand), metrics.accuracy_score(y, prod)
    assert accuracy["candidate"] == pytest.approx(expected_c)
    assert accuracy["production"] == pytest.approx(expected_p)
    assert accuracy["delta"] == pytest.approx(expected_c - expected_p)
    assert accuracy["verdict"] == metric_direction.compare("accuracy", expected_c, expected_p)
    log_loss = comparison["metrics"]["log_loss"]
    prod_loss = metrics.log_loss(y, _champion().predict_proba(X), labels=["bad", "good"])
    assert log_loss["production"] == pytest.approx(prod_loss)
    # Lower is better for a loss: a smaller candidate loss is "better".
    assert log_loss["verdict"] == ("better" if log_loss["candidate"] < prod_loss else "worse")

    sample = comparison["disagreement_sample"]
    assert len(sample) == min(50, comparison["disagreements"])
    first = int(arrays["positions"][0])
    assert sample[0] == {
        "income": pytest.approx(X["income"].iloc[first]),
        "age": int(X["age"].iloc[first]),
        "region": X["region"].iloc[first],
        "candidate": cand[first],
        "production": prod[first],
        "actual": y[first],
    }
    assert isinstance(comparison["latency_delta_ms"], float)


def test_a_production_version_that_cannot_be_loaded_leaves_the_candidate_report_intact(
    tmp_path,
):
    frame = _data()
    (tmp_path / "candidate.skops").write_bytes(sio.dumps(_challenger()))
    (tmp_path / "production.skops").write_bytes(b"not a model")
    frame.to_csv(tmp_path / "eval.csv", index=False)
    report = validate_in_sandbox(
        artifact_path=tmp_path / "candidate.skops", artifact_format="skops", trusted=set(),
        evaluation_path=tmp_path / "eval.csv", target="label", limits=SandboxLimits(),
        production=ProductionInput(
            path=tmp_path / "production.skops", artifact_format="skops", trusted=set(), version=1
        ),
        measure_latency=False, **LIMITS,
    )  # fmt: skip
    assert report["comparison"] is None
    assert (
        "v1" in report["comparison_error"] and "could not be loaded" in report["comparison_error"]
    )
    assert report["evaluation"]["metrics"]["accuracy"] > 0.5


def _upload(client, classifier_bytes: bytes, *, with_csv: bool) -> ModelVersion:
    csv = _data().to_csv(index=False).encode() if with_csv else None
    kwargs = {"evaluation_data": csv, "target": "label"} if with_csv else {}
    response = mf.upload(client, classifier_bytes, **kwargs)
    assert response.status_code == 201, response.json()
    return ModelVersion.objects.get(pk=ModelVersion.objects.latest("pk").pk)


def test_the_worker_stores_the_comparison_gates_and_a_safe_disagreement_csv(
    db, api, owner, reviewer, outsider, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    from releases import selectors
    from releases.tasks import validate_model_version

    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=False):
        v1 = _upload(client, sio.dumps(_champion()), with_csv=True)
    validate_model_version.apply(kwargs={"version_id": v1.pk})
    v1.refresh_from_db()
    assert v1.status == VersionStatus.VALIDATED, v1.validation_error
    assert v1.validation_report["comparison"] is None  # nothing in production yet

    # v1 is what live traffic gets (however promotion records it).
    monkeypatch.setattr(
        selectors,
        "production_version",
        lambda *, registered_model: ModelVersion.objects.get(pk=v1.pk),
    )
    type(model).objects.filter(pk=model.pk).update(
        gates={
            "max_regression": {"accuracy": 0.0},
            "min_metrics": {"accuracy": 0.99},
            "block_breaking_signature_change": True,
        }
    )
    with django_capture_on_commit_callbacks(execute=False):
        v2 = _upload(client, sio.dumps(_challenger()), with_csv=False)
    validate_model_version.apply(kwargs={"version_id": v2.pk})
    v2.refresh_from_db()
    assert v2.status == VersionStatus.VALIDATED, v2.validation_error  # gates do not fail it

    report = v2.validation_report
    comparison = report["comparison"]
    assert comparison is not None, report.get("comparison_error")
    frame = _data()
    cand = _challenger().predict(frame.drop(columns="label"))
    prod = _champion().predict(frame.drop(columns="label"))
    assert comparison["against_version"] == 1
    assert comparison["disagreements"] == int((cand != prod).sum()) > 0
    assert comparison["signature_diff"]["changed"] is False
    gates = {g["kind"]: g for g in report["gates"]}
    accuracy_c = metrics.accuracy_score(frame["label"], cand)
    accuracy_p = metrics.accuracy_score(frame["label"], prod)
    assert gates["max_regression"]["passed"] is (accuracy_c >= accuracy_p)
    assert gates["min_metric"]["passed"] is False  # 0.99 is out of reach
    assert gates["min_metric"]["measured"] == pytest.approx(accuracy_c)
    assert gates["signature"]["passed"] is True
    assert report["gates_passed"] is False
    event = AuditEvent.objects.get(model_version=v2, action="version.validated")
    assert event.payload["gates_passed"] is False

    body = client.get("/api/v1/models/credit-risk/versions/2/validation/").json()
    url = body["comparison"]["disagreements_url"]
    assert "disagreements_file" not in body["comparison"]  # no storage names in the API
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    rows = pd.read_csv(io.BytesIO(text), dtype=str)
    assert len(rows) == comparison["disagreements"]
    assert list(rows.columns) == ["income", "age", "region", "candidate", "production", "actual"]
    # No cell starts a formula: "=SUM(1)" arrives quoted.
    assert not rows.map(lambda v: str(v).startswith(("=", "+", "@"))).any().any()
    if (frame["region"].iloc[np.flatnonzero(cand != prod)] == "=SUM(1)").any():
        assert "'=SUM(1)" in set(rows["region"])

    assert api(outsider).get(url).status_code == 404
    assert api(reviewer).get(url).status_code == 200
    assert (
        client.get("/api/v1/models/credit-risk/versions/1/validation/disagreements.csv").status_code
        == 404
    )


def test_a_promoted_version_is_the_champion_and_failed_gates_block_the_challengers_promotion(
    db, api, owner, reviewer, media_root, django_capture_on_commit_callbacks
):
    from releases.errors import DomainError
    from releases.services.review import model_version_promote, model_version_review
    from releases.tasks import validate_model_version

    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=False):
        v1 = _upload(client, sio.dumps(_champion()), with_csv=True)
    validate_model_version.apply(kwargs={"version_id": v1.pk})
    v1 = model_version_review(
        actor=reviewer, model_version=ModelVersion.objects.get(pk=v1.pk), decision="approve"
    )
    model_version_promote(actor=reviewer, model_version=v1, stage="production")

    type(model).objects.filter(pk=model.pk).update(gates={"min_metrics": {"accuracy": 0.999}})
    with django_capture_on_commit_callbacks(execute=False):
        v2 = _upload(client, sio.dumps(_challenger()), with_csv=False)
    validate_model_version.apply(kwargs={"version_id": v2.pk})
    v2.refresh_from_db()
    assert v2.status == VersionStatus.VALIDATED
    assert v2.validation_report["comparison"]["against_version"] == 1
    assert v2.validation_report["gates_passed"] is False

    v2 = model_version_review(actor=reviewer, model_version=v2, decision="approve")
    with pytest.raises(DomainError, match=r"(?i)gate"):
        model_version_promote(actor=reviewer, model_version=v2, stage="production")
