"""App tokens: made and revoked by reviewers and admins, stored hashed, shown once, audited,
good for predicting on the models they name and for nothing else."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest
from django.test import Client

from releases.models import AuditEvent, Stage
from scoring.models import AppToken
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import bodies, post, sample

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/models/credit-risk/app-tokens/"


def create(api: Any, user: Any, **body: Any) -> Any:
    return api(user).post(TOKENS, {"name": "checkout", **body}, format="json")


def test_a_reviewer_creates_a_token_whose_key_is_shown_once_and_stored_hashed(
    api: Any, reviewer: Any, served: Any
) -> None:
    response = create(api, reviewer)

    assert response.status_code == 201, response.content
    key = response.json()["key"]
    assert key.startswith("mga_") and len(key) > 40
    row = AppToken.objects.get()
    assert row.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(AppToken.objects.values().get())
    listed = api(reviewer).get(TOKENS).json()
    assert listed[0]["models"] == ["credit-risk"] and "key" not in listed[0]
    event = AuditEvent.objects.get(action="app_token.create")
    assert key not in orjson.dumps(event.payload).decode()


def test_an_app_token_predicts_on_its_model(api: Any, reviewer: Any, served: Any) -> None:
    key = create(api, reviewer).json()["key"]

    response = post("/api/v1/models/credit-risk/predict/", bodies(sample(2))["instances"], key)

    assert response.status_code == 200
    assert response.json()["predictions"] == mf.pipeline_model().predict(sample(2)).tolist()


def test_an_app_token_cannot_predict_on_another_model(
    api: Any, reviewer: Any, served: Any, owner: Any
) -> None:
    other = RegisteredModelFactory(name="fraud", team=TeamFactory(name="risk"), created_by=owner)
    serve(other, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = create(api, reviewer).json()["key"]

    response = post("/api/v1/models/fraud/predict/", bodies(sample(1))["instances"], key)

    assert response.status_code == 404


def test_an_app_token_is_refused_by_every_other_endpoint(
    api: Any, reviewer: Any, served: Any
) -> None:
    key = create(api, reviewer).json()["key"]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    for url in ("/api/v1/me/", "/api/v1/models/", "/api/v1/models/credit-risk/",
                "/api/v1/models/credit-risk/versions/", TOKENS,
                "/api/v1/models/credit-risk/versions/1/artifact"):  # fmt: skip
        response = client.get(url)
        assert response.status_code in (401, 403), url
        assert "app token" in response.json()["detail"]
    assert client.post(TOKENS, {"name": "x"}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert AppToken.objects.count() == 1


def test_data_scientists_and_outsiders_cannot_create_or_list_tokens(
    api: Any, owner: Any, outsider: Any, served: Any
) -> None:
    assert create(api, owner).status_code == 403
    assert create(api, outsider).status_code == 404
    assert api(owner).get(TOKENS).status_code == 403
    assert AppToken.objects.count() == 0


def test_a_revoked_token_stops_working_at_once(
    api: Any, reviewer: Any, served: Any, django_capture_on_commit_callbacks: Any
) -> None:
    created = create(api, reviewer).json()
    url, body = "/api/v1/models/credit-risk/predict/", bodies(sample(1))["instances"]
    assert post(url, body, created["key"]).status_code == 200  # now cached in this process

    with django_capture_on_commit_callbacks(execute=True):
        revoked = api(reviewer).delete(f"{TOKENS}{created['id']}/")

    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert post(url, body, created["key"]).status_code == 401
    assert AuditEvent.objects.filter(action="app_token.revoke").count() == 1


def test_a_token_may_name_other_models_of_the_same_team_only(
    api: Any, reviewer: Any, served: Any, owner: Any
) -> None:
    RegisteredModelFactory(name="fraud", team=TeamFactory(name="risk"), created_by=owner)
    RegisteredModelFactory(name="growth-model", team=TeamFactory(name="growth"), created_by=owner)

    assert create(api, reviewer, models=["fraud"]).json()["models"] == ["credit-risk", "fraud"]
    refused = create(api, reviewer, models=["growth-model"])
    assert refused.status_code == 404 and refused.json()["field"] == "models"


def test_the_model_page_links_to_a_page_that_creates_shows_once_and_revokes(
    client: Any, reviewer: Any, served: Any, owner: Any
) -> None:
    client.force_login(reviewer)
    assert "/models/credit-risk/app-tokens/" in client.get("/models/credit-risk/").content.decode()

    created = client.post("/models/credit-risk/app-tokens/", {"name": "checkout"})
    assert created.status_code == 201
    token = AppToken.objects.get()
    key = re.search(r"mga_[A-Za-z0-9_-]+", created.content.decode()).group(0)  # type: ignore[union-attr]
    assert hashlib.sha256(key.encode()).hexdigest() == token.digest
    listing = client.get("/models/credit-risk/app-tokens/").content.decode()
    assert "checkout" in listing and key not in listing

    client.post(f"/models/credit-risk/app-tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None

    client.force_login(owner)
    assert client.get("/models/credit-risk/app-tokens/").status_code == 403
