"""Local explanations through the API: SHAP's own values, named by input feature, bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap

from explain.local import clear_cache
from tests.explain.builders import credit_frame, forest_pipeline, in_stage, stored_version

pytestmark = pytest.mark.django_db

NUMERIC = ["a", "b", "c", "d"]


@pytest.fixture(autouse=True)
def _fresh(media_root: Path) -> Any:
    from releases.loading import clear_cache as clear_loaded

    clear_cache()
    clear_loaded()
    yield
    clear_cache()


def _numeric(n: int = 200) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(3).normal(size=(n, 4)), columns=NUMERIC)


def _instances(frame: pd.DataFrame) -> dict[str, Any]:
    return {"instances": frame.to_dict(orient="records")}


def _url(name: str = "credit-risk", version: int | None = None) -> str:
    if version is None:
        return f"/api/v1/models/{name}/explain/"
    return f"/api/v1/models/{name}/versions/{version}/explain/"


def test_regressor_values_equal_tree_explainer_on_the_same_rows(api, owner, risk_model):
    from sklearn.ensemble import RandomForestRegressor

    X = _numeric()
    y = X["a"] * 3 - X["b"]
    model = RandomForestRegressor(25, random_state=0).fit(X, y)
    version = in_stage(stored_version(risk_model, 1, model, X, y))
    rows = X.iloc[:5]

    response = api(owner).post(_url(), _instances(rows), format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == version.version and body["explainer"] == "tree"
    direct = shap.TreeExplainer(model)
    expected = direct.shap_values(rows)
    for i, row in enumerate(body["explanations"]):
        got = np.array([row["shap_values"][name] for name in NUMERIC])
        np.testing.assert_allclose(got, expected[i], rtol=0, atol=1e-10)
        assert row["base_value"] == pytest.approx(float(direct.expected_value[0]), abs=1e-10)
        assert row["prediction"] == pytest.approx(model.predict(rows)[i], abs=1e-10)


def test_classifier_values_equal_tree_explainer_per_class(api, owner, risk_model):
    from sklearn.ensemble import RandomForestClassifier

    X = _numeric()
    y = np.where(X["a"] + X["c"] > 0, "yes", "no")
    model = RandomForestClassifier(25, random_state=0).fit(X, y)
    version = stored_version(risk_model, 1, model, X, y)
    rows = X.iloc[10:14]

    response = api(owner).post(_url(version=version.version), _instances(rows), format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["output"] == "probability" and body["outputs"] == ["no", "yes"]
    expected = shap.TreeExplainer(model).shap_values(rows)  # (rows, features, classes)
    for i, row in enumerate(body["explanations"]):
        for k, cls in enumerate(["no", "yes"]):
            got = np.array([row["shap_values"][cls][name] for name in NUMERIC])
            np.testing.assert_allclose(got, expected[i, :, k], rtol=0, atol=1e-10)
        assert row["prediction"] == model.predict(rows)[i]
    assert body["additivity"]["ok"] is True


def test_pipeline_with_one_hot_is_explained_by_input_feature_and_adds_up(api, owner, risk_model):
    frame, target = credit_frame()
    model = forest_pipeline(frame, target)
    version = stored_version(risk_model, 1, model, frame, target)
    rows = frame.iloc[:3]

    response = api(owner).post(_url(version=1), _instances(rows), format="json")

    assert response.status_code == 200, response.json()
    proba = model.predict_proba(rows)
    for i, row in enumerate(response.json()["explanations"]):
        for k, cls in enumerate(model.classes_):
            values = row["shap_values"][cls]
            assert set(values) == {"income", "age", "region"}
            total = row["base_value"][cls] + sum(values.values())
            assert total == pytest.approx(proba[i, k], abs=1e-9)
    assert version.pk


def test_staging_is_explained_when_asked(api, owner, risk_model):
    frame, target = credit_frame()
    in_stage(stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target))
    in_stage(
        stored_version(risk_model, 2, forest_pipeline(frame, target, trees=5), frame, target),
        "staging",
    )
    body = api(owner).post(_url() + "?stage=staging", _instances(frame.iloc[:1]), format="json")
    assert body.status_code == 200 and body.json()["version"] == 2
    assert api(owner).post(_url(), _instances(frame.iloc[:1]), format="json").json()["version"] == 1


def test_a_model_with_nothing_in_production_is_a_404_that_says_so(api, owner, risk_model):
    response = api(owner).post(_url(), {"instances": [{"a": 1}]}, format="json")
    assert response.status_code == 404
    assert "no version in production" in response.json()["detail"]


def test_more_rows_than_the_limit_is_a_413_with_the_limit(api, owner, risk_model, settings):
    settings.MODELGATE_EXPLAIN_MAX_ROWS = 3
    frame, target = credit_frame()
    stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target)

    response = api(owner).post(_url(version=1), _instances(frame.iloc[:4]), format="json")

    assert response.status_code == 413
    assert "3" in response.json()["detail"]


def test_a_bad_row_is_a_400_naming_the_row_and_feature(api, owner, risk_model):
    frame, target = credit_frame()
    stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target)
    rows = frame.iloc[:2].to_dict(orient="records")
    rows[1]["income"] = "lots"

    response = api(owner).post(_url(version=1), {"instances": rows}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "instances[1].income"


def test_another_teams_model_is_a_404(api, outsider, risk_model):
    frame, target = credit_frame()
    in_stage(stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target))
    body = _instances(frame.iloc[:1])
    assert api(outsider).post(_url(), body, format="json").status_code == 404
    assert api(outsider).post(_url(version=1), body, format="json").status_code == 404


def test_a_labeler_explains_production_but_not_a_candidate_version(api, labeler, risk_model):
    frame, target = credit_frame()
    in_stage(stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target))
    stored_version(risk_model, 2, forest_pipeline(frame, target, trees=5), frame, target)
    body = _instances(frame.iloc[:1])

    assert api(labeler).post(_url(), body, format="json").status_code == 200
    refused = api(labeler).post(_url(version=2), body, format="json")
    assert refused.status_code == 403
    assert "production or staging" in refused.json()["detail"]


def test_anonymous_callers_are_refused(api, risk_model):
    assert api(None).post(_url(), {"instances": []}, format="json").status_code in {401, 403}


def test_a_model_without_fast_explainer_is_explained_by_the_bounded_one(api, owner, risk_model):
    from sklearn.svm import SVR

    X = _numeric(120)
    model = SVR().fit(X, X["a"])
    stored_version(risk_model, 1, model, X, X["a"])

    response = api(owner).post(_url(version=1), _instances(X.iloc[:2]), format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["explainer"] == "permutation" and "no exact explainer" in body["reason"]
    row = body["explanations"][0]
    assert row["base_value"] + sum(row["shap_values"].values()) == pytest.approx(
        row["prediction"], abs=1e-9
    )


def test_importing_the_web_urls_does_not_import_shap():
    code = (
        "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings');"
        "import django; django.setup();"
        "from django.urls import get_resolver; import webapp.urls; get_resolver().url_patterns;"
        "import webapp.wsgi;"
        "print('shap' in sys.modules, 'numba' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]
