"""Who may reach which API URL: another team never learns a model exists (404 everywhere),
anonymous callers are 401, admins see everything, and downloads return the exact bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from releases.models import AuditEvent, ModelVersion
from tests.releases import model_files as mf

MODEL = "/api/v1/models/credit-risk/"
VERSIONS = f"{MODEL}versions/"
VERSION = f"{VERSIONS}1/"
ARTIFACT = f"{VERSION}artifact"
TRUST = f"{VERSION}trust"


@pytest.fixture
def knn_v1(api: Any, owner: Any, risk_model: Any, media_root: Path) -> ModelVersion:
    """Version 1 of credit-risk, uploaded through the API, with types awaiting trust."""
    response = api(owner).post(
        VERSIONS,
        {"artifact": SimpleUploadedFile("knn.skops", mf.skops_knn_bytes())},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return ModelVersion.objects.get()


def request_every_model_url(client: Any) -> dict[str, Any]:
    """One request per operation on team risk's model, each one well-formed."""
    upload = {"artifact": SimpleUploadedFile("m.skops", mf.skops_pipeline_bytes())}
    return {
        "model detail": client.get(MODEL),
        "versions list": client.get(VERSIONS),
        "version upload": client.post(VERSIONS, upload, format="multipart"),
        "version detail": client.get(VERSION),
        "artifact download": client.get(ARTIFACT),
        "trust": client.post(TRUST, {"types": [mf.KNN_UNTRUSTED_TYPES[0]]}, format="json"),
    }


def test_outsider_gets_404_on_every_model_url(
    api: Any, outsider: Any, knn_v1: ModelVersion, media_root: Path
) -> None:
    files_before = sorted(media_root.rglob("*"))

    responses = request_every_model_url(api(outsider))

    for what, response in responses.items():
        assert response.status_code == 404, what
        body = response.json()
        assert body["error"] == "not_found", what
        assert body["detail"] == "No model named 'credit-risk' is visible to you.", what
    assert ModelVersion.objects.count() == 1
    assert ModelVersion.objects.get().trusted_types == []
    assert sorted(media_root.rglob("*")) == files_before
    assert not AuditEvent.objects.filter(actor=outsider).exists()


def test_outsider_404_for_a_real_model_matches_a_missing_one(
    api: Any, outsider: Any, risk_model: Any
) -> None:
    hidden = api(outsider).get(MODEL)
    missing = api(outsider).get("/api/v1/models/credit-risky/")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"] == missing.json()["error"]
    assert "credit-risk'" in hidden.json()["detail"]


def test_anonymous_gets_401_on_every_api_url(
    api: Any, knn_v1: ModelVersion, media_root: Path
) -> None:
    client = api(None)
    responses = {
        "me": client.get("/api/v1/me/"),
        "models list": client.get("/api/v1/models/"),
        "model create": client.post(
            "/api/v1/models/", {"name": "x", "team": "risk"}, format="json"
        ),
        **request_every_model_url(client),
    }

    for what, response in responses.items():
        assert response.status_code == 401, what
        assert response["WWW-Authenticate"] == "Token", what
        assert response.json()["error"] == "not_authenticated", what
    assert ModelVersion.objects.count() == 1


def test_a_wrong_token_is_401(api: Any, knn_v1: ModelVersion) -> None:
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = client.get(MODEL)

    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_admin_from_another_team_sees_every_model_url(
    api: Any, admin_user: Any, knn_v1: ModelVersion
) -> None:
    client = api(admin_user)

    assert client.get("/api/v1/models/").json()["count"] == 1
    for url in (MODEL, VERSIONS, VERSION, ARTIFACT):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["owner", "reviewer", "labeler"])
def test_team_member_downloads_the_exact_bytes_with_their_hash(
    api: Any, request: pytest.FixtureRequest, knn_v1: ModelVersion, persona: str
) -> None:
    user = request.getfixturevalue(persona)
    expected = mf.skops_knn_bytes()

    response = api(user).get(ARTIFACT)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == expected
    assert response["X-Content-SHA256"] == hashlib.sha256(expected).hexdigest()
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="credit-risk-v1.skops"'
    event = AuditEvent.objects.get(action="version.download")
    assert event.actor == user and event.model_version == knn_v1


@pytest.mark.parametrize("persona", ["reviewer", "labeler"])
def test_team_members_without_data_scientist_role_cannot_upload(
    api: Any, request: pytest.FixtureRequest, risk_model: Any, media_root: Path, persona: str
) -> None:
    response = api(request.getfixturevalue(persona)).post(
        VERSIONS,
        {"artifact": SimpleUploadedFile("m.skops", mf.skops_pipeline_bytes())},
        format="multipart",
    )

    assert response.status_code == 403
    assert "upload" in response.json()["detail"]
    assert not ModelVersion.objects.exists()
    assert not any(media_root.rglob("*.*"))


def test_missing_version_of_a_visible_model_is_404(api: Any, owner: Any, risk_model: Any) -> None:
    for url in (VERSION, ARTIFACT):
        response = api(owner).get(url)
        assert response.status_code == 404
        assert response.json()["detail"] == "Model 'credit-risk' has no version 1."
