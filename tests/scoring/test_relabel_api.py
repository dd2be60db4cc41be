"""The relabel API for labeling tools: lease, label, skip, settle, counts and policy; wrong
team is a 404, wrong role a 403, a bad label a 400 naming the classes, a taken item a 409."""

from __future__ import annotations

from typing import Any

import pytest

from releases.models import Role
from scoring.models import GroundTruth, RelabelItem
from tests.factories import member
from tests.scoring.relabeling import labelers, queue, version_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(risk_model):
    return version_of(risk_model)


def next_url(name: str = "credit-risk") -> str:
    return f"/api/v1/relabel/{name}/next/"


def item_url(item: Any, what: str) -> str:
    pk = item if isinstance(item, int) else item.pk
    return f"/api/v1/relabel/items/{pk}/{what}/"


def test_next_leases_an_item_with_what_a_labeler_needs_then_204_when_empty(api, version):
    (item,) = queue(version, 1)
    alice, bob = labelers(2)

    response = api(alice).get(next_url())

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == item.pk and body["version"] == version.version
    assert body["features"] == {"age": 30.0, "city": "lyon"}
    assert body["prediction"] == "stay" and body["probabilities"] == [0.45, 0.55]
    assert body["classes"] == ["churn", "stay"] and body["lease_expires_at"]
    assert "no-cache" in response["Cache-Control"]
    assert api(bob).get(next_url()).status_code == 204


def test_labeling_through_the_api_stores_the_label_once(api, version):
    (item,) = queue(version, 1)
    (alice,) = labelers(1)
    client = api(alice)
    client.get(next_url())

    response = client.post(item_url(item, "label"), {"label": "churn"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "labeled"
    assert GroundTruth.objects.get().label == "churn"


def test_a_label_outside_the_classes_is_a_400_naming_them(api, version):
    (item,) = queue(version, 1)
    (alice,) = labelers(1)
    api(alice).get(next_url())

    response = api(alice).post(item_url(item, "label"), {"label": "maybe"}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "label"
    assert "'churn', 'stay'" in response.json()["detail"]
    missing = api(alice).post(item_url(item, "label"), {}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "label"


def test_an_item_leased_to_someone_else_or_already_done_is_a_409(api, version):
    first, _ = queue(version, 2)
    alice, bob = labelers(2)
    api(alice).get(next_url())  # alice holds the first item

    taken = api(bob).post(item_url(first, "label"), {"label": "stay"}, format="json")
    assert taken.status_code == 409 and taken.json()["error"] == "leased_to_someone_else"
    skipped = api(bob).post(item_url(first, "skip"), {}, format="json")
    assert skipped.status_code == 409

    assert (
        api(alice).post(item_url(first, "label"), {"label": "stay"}, format="json").status_code
        == 200
    )
    done = api(bob).post(item_url(first, "label"), {"label": "churn"}, format="json")
    assert done.status_code == 409 and done.json()["error"] == "already_complete"


def test_skip_and_unsure_return_the_item_to_others(api, version):
    (item,) = queue(version, 1)
    alice, bob, carol = labelers(3)
    api(alice).get(next_url())
    assert api(alice).post(item_url(item, "skip"), {}, format="json").json()["status"] == "open"
    assert api(bob).get(next_url()).json()["id"] == item.pk
    assert api(bob).post(item_url(item, "skip"), {"unsure": True}, format="json").status_code == 200
    assert api(alice).get(next_url()).status_code == 204
    assert api(carol).get(next_url()).json()["id"] == item.pk
    bad = api(carol).post(item_url(item, "skip"), {"unsure": "perhaps"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "unsure"


def test_another_teams_labeler_gets_404_everywhere(api, version):
    (item,) = queue(version, 1)
    stranger = member("stan", Role.LABELER, "growth")
    client = api(stranger)
    assert client.get(next_url()).status_code == 404
    assert client.get("/api/v1/relabel/credit-risk/counts/").status_code == 404
    assert client.get("/api/v1/relabel/credit-risk/policy/").status_code == 404
    for what, body in [("label", {"label": "stay"}), ("skip", {}), ("settle", {"label": "stay"})]:
        assert client.post(item_url(item, what), body, format="json").status_code == 404
    assert client.get(item_url(item, "explanation")).status_code == 404
    assert client.get("/api/v1/relabel/queues/").json() == []
    assert RelabelItem.objects.get().lease_holder_id is None


def test_a_data_scientist_of_the_team_may_not_label(api, version, owner):
    queue(version, 1)
    response = api(owner).get(next_url())
    assert response.status_code == 403 and "labelers" in response.json()["detail"]


def test_queues_and_counts_show_where_work_waits(api, version, labeler):
    queue(version, 3)
    api(labeler).get(next_url())
    queues = api(labeler).get("/api/v1/relabel/queues/").json()
    assert queues == [
        {"model": "credit-risk", "team": "risk", "open": 3, "disputed": 0, "unresolved": 0,
         "done": 0}
    ]  # fmt: skip
    counts = api(labeler).get("/api/v1/relabel/credit-risk/counts/").json()
    assert counts["open"] == 3 and counts["leased"] == 1 and counts["labeled"] == 0


def test_a_reviewer_settles_a_dispute_through_the_api(api, version, reviewer):
    (item,) = queue(version, 1, labels_needed=2)
    alice, bob = labelers(2)
    for person, label in [(alice, "churn"), (bob, "stay")]:
        api(person).get(next_url())
        api(person).post(item_url(item, "label"), {"label": label}, format="json")
    assert (
        api(alice).post(item_url(item, "settle"), {"label": "stay"}, format="json").status_code
        == 403
    )
    response = api(reviewer).post(item_url(item, "settle"), {"label": "stay"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "settled"


def test_the_policy_is_read_and_changed_through_the_api(api, risk_model, owner, labeler):
    url = "/api/v1/relabel/credit-risk/policy/"
    assert api(labeler).get(url).json()["threshold"] == 0.6
    assert api(labeler).put(url, {"threshold": 0.8}, format="json").status_code == 403
    bad = api(owner).put(url, {"sample_rate": 3}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "sample_rate"
    changed = api(owner).put(url, {"strategy": "entropy", "lease_seconds": 60}, format="json")
    assert changed.status_code == 200
    assert changed.json()["strategy"] == "entropy" and changed.json()["threshold"] == 0.6


def test_an_unexplainable_version_is_a_409_not_a_500(api, version):
    (item,) = queue(version, 1)
    (alice,) = labelers(1)
    response = api(alice).get(item_url(item, "explanation"))
    assert response.status_code in (400, 409), response.content


def test_the_explanation_of_an_items_prediction_names_each_feature(api, risk_model, media_root):
    from tests.explain.builders import credit_frame, forest_pipeline, stored_version
    from tests.factories import PredictionFactory

    frame, target = credit_frame()
    version = stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target)
    row = frame.iloc[0].to_dict()
    prediction = PredictionFactory(
        model_version=version, registered_model=risk_model, inputs=row, prediction="bad",
        probabilities=[0.5, 0.5],
    )  # fmt: skip
    item = RelabelItem.objects.create(
        prediction=prediction, registered_model=risk_model, model_version=version,
        reason="uncertain", uncertainty=0.5,
    )  # fmt: skip
    (alice,) = labelers(1)

    response = api(alice).get(item_url(item, "explanation"))

    assert response.status_code == 200, response.content
    explanation = response.json()["explanations"][0]
    values = explanation["shap_values"]
    per_feature = values[next(iter(values))] if "income" not in values else values
    assert set(per_feature) == {"income", "age", "region"}


def test_admins_and_reviewers_of_the_team_may_label_too(api, version, admin_user, reviewer):
    first, second = queue(version, 2)
    assert api(admin_user).get(next_url()).json()["id"] == first.pk
    assert api(reviewer).get(next_url()).json()["id"] == second.pk
