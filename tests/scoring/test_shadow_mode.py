"""Shadow mode: the staging version scores live production requests off the request path; its
answers are stored per logged prediction and compared, and nothing reaches the live answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.test import Client

from releases import services as release_services
from releases.models import AuditEvent, Stage
from scoring import services
from scoring.models import ShadowResult
from scoring.prediction_log import prediction_log
from scoring.shadow import shadow
from tests.releases import model_files as mf
from tests.scoring.serving import forest_model, logistic_numeric, serve
from tests.scoring.test_observability import scrape, series
from tests.scoring.test_predict import URL, bodies, key_for, post, sample

pytestmark = pytest.mark.django_db

SHADOW_URL = "/api/v1/models/credit-risk/shadow/"


@pytest.fixture
def two_stages(risk_model: Any, owner: Any) -> tuple[Any, Any]:
    """Production: the logistic pipeline (v1); staging: a random forest (v2) that answers
    differently on some of the sample rows."""
    production = serve(
        risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION
    )
    staging = serve(risk_model, 2, model=forest_model(), uploaded_by=owner, stage=Stage.STAGING)
    return production, staging


def _predict(frame: Any, key: str) -> dict[str, Any]:
    response = post(URL, bodies(frame)["instances"], key)
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_shadow_results_agree_exactly_where_the_two_models_agree(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any, api: Any
) -> None:
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    frame = sample(40)
    key = key_for(owner)
    answers = [_predict(frame.iloc[:25], key), _predict(frame.iloc[25:], key)]

    prediction_log.flush()
    assert shadow.drain() == 40

    production = mf.pipeline_model().predict(frame)
    staging = forest_model().predict(frame)
    expected_agree = production == staging
    assert 0 < expected_agree.sum() < 40, "the two models must differ on some rows"
    ids = [i for a in answers for i in a["prediction_ids"]]
    results = {str(r.prediction_id): r for r in ShadowResult.objects.all()}
    assert sorted(results) == sorted(ids)
    for i, prediction_id in enumerate(ids):
        result = results[prediction_id]
        assert result.agree == bool(expected_agree[i])
        assert result.shadow_prediction == staging[i]
        np.testing.assert_allclose(result.probabilities, forest_model().predict_proba(frame)[i])
        assert result.shadow_version.version == 2 and result.production_version.version == 1
    # The live answers were production's, untouched by the shadow.
    assert [p for a in answers for p in a["predictions"]] == production.tolist()

    body = api(owner).get(SHADOW_URL).json()
    assert body["enabled"] is True and body["shadow_version"] == 2
    assert body["agreement"]["compared"] == 40
    assert body["agreement"]["agreed"] == int(expected_agree.sum())
    assert body["agreement"]["rate"] == pytest.approx(expected_agree.mean())
    assert body["by_version"] == [
        {
            "shadow_version": 2,
            "compared": 40,
            "agreed": int(expected_agree.sum()),
            "disagreed": int((~expected_agree).sum()),
            "rate": pytest.approx(expected_agree.mean()),
        }
    ]
    disagreements = body["disagreements"]
    assert disagreements["count"] == int((~expected_agree).sum())
    first = disagreements["results"][0]
    row = ids.index(first["prediction_id"])
    assert first["inputs"] == frame.iloc[row].to_dict()
    assert first["production_prediction"] == production[row]
    assert first["shadow_prediction"] == staging[row] != production[row]

    samples = scrape()
    assert series(samples, "modelgate_shadow_comparisons_total", agree="true") == int(
        expected_agree.sum()
    )
    assert series(samples, "modelgate_shadow_comparisons_total", agree="false") == int(
        (~expected_agree).sum()
    )


def test_disagreements_are_paginated(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any, api: Any
) -> None:
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    frame = sample(40)
    _predict(frame, key_for(owner))
    prediction_log.flush()
    shadow.drain()
    expected = int((mf.pipeline_model().predict(frame) != forest_model().predict(frame)).sum())

    page = api(owner).get(SHADOW_URL, {"limit": 5, "offset": 5}).json()["disagreements"]
    others = api(owner).get(SHADOW_URL, {"limit": 5}).json()["disagreements"]

    assert page["count"] == expected and len(page["results"]) == 5
    assert page["next"] and page["previous"]
    assert not {r["prediction_id"] for r in page["results"]} & {
        r["prediction_id"] for r in others["results"]
    }


def test_with_shadow_off_nothing_is_shadowed(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    key = key_for(owner)
    _predict(sample(5), key)  # never turned on
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=False)
    _predict(sample(5), key)  # turned off again

    prediction_log.flush()
    assert shadow.drain() == 0
    assert ShadowResult.objects.count() == 0


def test_only_production_requests_are_shadowed(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    key = key_for(owner)
    assert post(URL + "?stage=staging", bodies(sample(3))["instances"], key).status_code == 200
    assert (
        post(
            "/api/v1/models/credit-risk/versions/1/predict/", bodies(sample(3))["instances"], key
        ).json()["version"]
        == 1
    )

    assert shadow.drain() == 0


def test_a_shadow_model_that_raises_never_touches_the_live_answer(
    risk_model: Any, owner: Any, reviewer: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    # Fitted on the numeric columns only: scikit-learn refuses the production rows' extra
    # columns (a ValueError about feature names) when the shadow scores them.
    serve(
        risk_model, 2, model=logistic_numeric(), uploaded_by=owner, stage=Stage.STAGING,
        numeric_only=True,
    )  # fmt: skip
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    frame = sample(6)

    answer = _predict(frame, key_for(owner))
    prediction_log.flush()
    assert shadow.drain() == 0

    assert answer["predictions"] == mf.pipeline_model().predict(frame).tolist()
    assert ShadowResult.objects.count() == 0
    assert shadow.stats()["dropped"] == 6
    assert series(scrape(), "modelgate_shadow_dropped_rows_total", reason="shadow_failed") == 6


def test_a_full_shadow_queue_drops_and_counts_instead_of_waiting(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any, settings: Any
) -> None:
    settings.MODELGATE_SHADOW_QUEUE_MAX_ROWS = 5
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    key = key_for(owner)

    _predict(sample(4), key)  # queued
    _predict(sample(3), key)  # 4 + 3 > 5: dropped, the request still answered

    assert shadow.stats() == {"queued": 4, "written": 0, "dropped": 3}
    prediction_log.flush()
    assert shadow.drain() == 4
    assert series(scrape(), "modelgate_shadow_dropped_rows_total", reason="queue_full") == 3


def test_staging_promotions_keep_serving_production_and_the_shadow_follows_staging(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    v3 = serve(risk_model, 3, model=logistic_numeric(), uploaded_by=owner, numeric_only=True)
    key = key_for(owner)
    frame = sample(4)

    release_services.model_version_promote(actor=reviewer, model_version=v3, stage="staging")
    answer = _predict(frame, key)

    assert answer["version"] == 1
    assert answer["predictions"] == mf.pipeline_model().predict(frame).tolist()
    prediction_log.flush()
    shadow.drain()  # v3 cannot score these rows: dropped, never a live error
    v2 = two_stages[1]
    release_services.model_version_promote(actor=reviewer, model_version=v2, stage="staging")
    _predict(frame, key)
    prediction_log.flush()
    assert shadow.drain() == 4
    assert set(ShadowResult.objects.values_list("shadow_version__version", flat=True)) == {2}


def test_turning_shadow_on_needs_an_approved_staging_version(
    risk_model: Any, owner: Any, reviewer: Any, api: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)

    response = api(reviewer).put(SHADOW_URL, {"enabled": True}, format="json")

    assert response.status_code == 409
    assert response.json()["field"] == "enabled"
    assert "staging" in response.json()["detail"]


def test_reviewers_turn_shadow_on_and_off_with_an_audit_row(
    two_stages: Any, reviewer: Any, api: Any
) -> None:
    on = api(reviewer).put(SHADOW_URL, {"enabled": True}, format="json")
    again = api(reviewer).put(SHADOW_URL, {"enabled": True}, format="json")
    off = api(reviewer).put(SHADOW_URL, {"enabled": False}, format="json")

    assert on.status_code == again.status_code == off.status_code == 200
    assert on.json()["enabled"] is True and on.json()["shadow_version"] == 2
    assert on.json()["changed_by"] == reviewer.username
    assert off.json()["enabled"] is False
    events = AuditEvent.objects.filter(action="model.shadow").order_by("id")
    assert [e.payload["enabled"] for e in events] == [True, False]  # the repeat wrote nothing
    assert events[0].payload["shadow_version"] == 2 and events[0].actor == reviewer


def test_a_data_scientist_may_read_but_not_toggle(two_stages: Any, owner: Any, api: Any) -> None:
    assert api(owner).get(SHADOW_URL).status_code == 200
    assert api(owner).put(SHADOW_URL, {"enabled": True}, format="json").status_code == 403


@pytest.mark.parametrize("body", [{}, {"enabled": "maybe"}, {"enabled": None}, {"enabled": [True]}])
def test_a_bad_toggle_is_a_400_naming_enabled(
    two_stages: Any, reviewer: Any, api: Any, body: Any
) -> None:
    response = api(reviewer).put(SHADOW_URL, body, format="json")

    assert response.status_code == 400
    assert "enabled" in response.content.decode()


def test_a_bad_version_filter_is_a_400(two_stages: Any, owner: Any, api: Any) -> None:
    response = api(owner).get(SHADOW_URL, {"shadow_version": "two"})

    assert response.status_code == 400 and response.json()["field"] == "shadow_version"


def test_another_team_gets_404_on_read_and_toggle(two_stages: Any, outsider: Any, api: Any) -> None:
    assert api(outsider).get(SHADOW_URL).status_code == 404
    assert api(outsider).put(SHADOW_URL, {"enabled": True}, format="json").status_code == 404
    client = Client()
    client.force_login(outsider)
    assert client.post("/models/credit-risk/shadow/", {"enabled": "true"}).status_code == 404
    assert not AuditEvent.objects.filter(action="model.shadow").exists()


def test_the_model_page_shows_the_agreement_and_the_disagreeing_rows(
    two_stages: Any, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    client = Client()
    client.force_login(reviewer)
    response = client.post("/models/credit-risk/shadow/", {"enabled": "true"})
    assert response.status_code == 302 and response["Location"].endswith("#shadow")
    frame = sample(40)
    _predict(frame, key_for(owner))
    prediction_log.flush()
    shadow.drain()
    agree = mf.pipeline_model().predict(frame) == forest_model().predict(frame)

    page = client.get("/models/credit-risk/").content.decode()

    assert "shadow mode on" in page
    assert f"{agree.mean() * 100:.1f}%" in page
    assert f"({int(agree.sum())} / 40)" in page
    assert f"Rows where staging answered differently ({int((~agree).sum())})" in page
    assert page.count('<td class="mono">') >= 4 * min(20, int((~agree).sum()))
    assert "Stop shadowing" in page
