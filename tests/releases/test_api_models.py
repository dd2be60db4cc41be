"""The registry API used as a client would: register models, upload versions, trust types,
list and filter, and the published OpenAPI schema and docs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern

from releases import api_urls
from releases.models import (
    AuditEvent,
    EvaluationDataset,
    ModelVersion,
    RegisteredModel,
    Role,
    VersionStatus,
)
from tests.factories import (
    EvaluationDatasetFactory,
    MembershipFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
)
from tests.releases import model_files as mf

VERSIONS = "/api/v1/models/credit-risk/versions/"


upload = mf.upload


files_under = mf.files_under


def version_row(model: RegisteredModel, number: int, **fields: Any) -> ModelVersion:
    """A version row without a real artifact, for listing and filtering tests."""
    return ModelVersionFactory(registered_model=model, version=number, **fields)


# --- registering models -----------------------------------------------------------------------


def test_data_scientist_registers_a_model_in_their_team(api: Any, owner: Any) -> None:
    response = api(owner).post(
        "/api/v1/models/",
        {"name": "churn", "team": "risk", "description": "Who leaves"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "churn" and body["team"] == "risk"
    assert body["url"] == "/api/v1/models/churn/"
    assert RegisteredModel.objects.get(name="churn").created_by == owner
    assert AuditEvent.objects.filter(action="model.register", actor=owner).count() == 1


def test_registering_a_taken_name_is_409(api: Any, owner: Any, risk_model: Any) -> None:
    response = api(owner).post(
        "/api/v1/models/", {"name": "credit-risk", "team": "risk"}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict" and body["field"] == "name"
    assert "choose another name" in body["detail"]


def test_a_name_taken_by_another_team_is_409_revealing_nothing_about_that_team_or_model(
    api: Any, owner: Any, outsider: Any, risk_model: Any
) -> None:
    mine = api(owner).post(
        "/api/v1/models/", {"name": "credit-risk", "team": "risk"}, format="json"
    )
    theirs = api(outsider).post(
        "/api/v1/models/", {"name": "credit-risk", "team": "growth"}, format="json"
    )

    assert theirs.status_code == 409
    assert theirs.json() == mine.json()  # the same answer whoever owns the name
    assert set(theirs.json()) == {"error", "detail", "field"}
    text = str(theirs.json()).replace("credit-risk", "")
    for secret in ("risk", "dana", risk_model.description):
        assert secret not in text
    assert not AuditEvent.objects.filter(actor=outsider).exists()


@pytest.mark.parametrize("name", ["Credit Risk", "-leading-dash", "x" * 64, "a/b", ""])
def test_bad_model_name_is_400_with_a_sentence(api: Any, owner: Any, name: str) -> None:
    response = api(owner).post("/api/v1/models/", {"name": name, "team": "risk"}, format="json")

    assert response.status_code == 400
    message = " ".join(response.json()["fields"]["name"])
    assert len(message) > 15 and message.endswith("."), message
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize("team", ["growth", "no-such-team"])
def test_registering_in_a_team_you_are_not_in_is_404(
    api: Any, owner: Any, outsider: Any, team: str
) -> None:
    response = api(owner).post("/api/v1/models/", {"name": "sneaky", "team": team}, format="json")

    assert response.status_code == 404
    assert response.json()["detail"] == f"No team named {team!r} that you belong to."
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize("persona", ["labeler", "reviewer"])
def test_labelers_and_reviewers_cannot_register_models(
    api: Any, request: pytest.FixtureRequest, persona: str
) -> None:
    user = request.getfixturevalue(persona)

    response = api(user).post("/api/v1/models/", {"name": "mine", "team": "risk"}, format="json")

    assert response.status_code == 403
    assert "data scientists" in response.json()["detail"]
    assert not RegisteredModel.objects.exists()


def test_script_in_description_and_model_card_comes_back_verbatim_in_json(
    api: Any, owner: Any
) -> None:
    script = "<script>alert(1)</script>"
    created = api(owner).post(
        "/api/v1/models/",
        {"name": "xss", "team": "risk", "description": script, "model_card": f"# Hi\n{script}"},
        format="json",
    )
    fetched = api(owner).get("/api/v1/models/xss/")

    for response in (created, fetched):
        assert response["Content-Type"] == "application/json"
        assert response.json()["description"] == script
        assert response.json()["model_card"] == f"# Hi\n{script}"


# --- listing ----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(owner: Any, outsider: Any) -> dict[str, RegisteredModel]:
    risk, growth = TeamFactory(name="risk"), TeamFactory(name="growth")
    models = {
        "credit-risk": RegisteredModelFactory(name="credit-risk", team=risk, description="loans"),
        "fraud-score": RegisteredModelFactory(name="fraud-score", team=risk, description="cards"),
        "churn": RegisteredModelFactory(name="churn", team=risk, description="loan churn"),
        "growth-ltv": RegisteredModelFactory(name="growth-ltv", team=growth, description="loans"),
    }
    version_row(models["credit-risk"], 1, status=VersionStatus.APPROVED, tags=["q3"])
    version_row(models["credit-risk"], 2, status=VersionStatus.PENDING)
    version_row(models["fraud-score"], 1, status=VersionStatus.VALIDATED, tags=["candidate"])
    version_row(models["growth-ltv"], 1, status=VersionStatus.APPROVED, tags=["q3"])
    return models


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [m["name"] for m in response.json()["results"]]


def test_model_list_shows_only_my_teams_models_with_counts(
    api: Any, owner: Any, catalogue: Any
) -> None:
    response = api(owner).get("/api/v1/models/")

    assert names(response) == ["churn", "credit-risk", "fraud-score"]
    by_name = {m["name"]: m for m in response.json()["results"]}
    assert by_name["credit-risk"]["version_count"] == 2
    assert by_name["credit-risk"]["latest_version"] == 2
    assert by_name["churn"]["version_count"] == 0
    assert by_name["churn"]["latest_version"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=loan", ["churn", "credit-risk"]),
        ("search=FRAUD", ["fraud-score"]),
        ("status=approved", ["credit-risk"]),
        ("status=validated", ["fraud-score"]),
        ("tag=q3", ["credit-risk"]),
        ("tag=candidate", ["fraud-score"]),
        ("team=growth", []),
        ("team=risk&search=churn", ["churn"]),
        ("status=rejected", []),
    ],
)
def test_model_list_filters_never_reach_other_teams(
    api: Any, owner: Any, catalogue: Any, query: str, expected: list[str]
) -> None:
    assert names(api(owner).get(f"/api/v1/models/?{query}")) == expected


@pytest.mark.parametrize("query", ["status=approved", "tag=q3"])
def test_model_list_filters_do_not_change_the_version_counts(
    api: Any, owner: Any, catalogue: Any, query: str
) -> None:
    (model,) = api(owner).get(f"/api/v1/models/?{query}").json()["results"]

    assert (model["name"], model["version_count"], model["latest_version"]) == (
        "credit-risk",
        2,
        2,
    )


def test_model_list_is_paginated_with_count_and_next(api: Any, owner: Any, catalogue: Any) -> None:
    first = api(owner).get("/api/v1/models/?limit=2").json()

    assert first["count"] == 3
    assert [m["name"] for m in first["results"]] == ["churn", "credit-risk"]
    assert first["previous"] is None
    second = api(owner).get(first["next"]).json()
    assert [m["name"] for m in second["results"]] == ["fraud-score"]
    assert second["next"] is None


def test_admin_lists_every_teams_models(api: Any, admin_user: Any, catalogue: Any) -> None:
    assert names(api(admin_user).get("/api/v1/models/")) == sorted(catalogue)


def test_model_detail_shows_the_model(api: Any, labeler: Any, catalogue: Any) -> None:
    response = api(labeler).get("/api/v1/models/credit-risk/")

    assert response.status_code == 200
    assert response.json()["description"] == "loans"
    assert response.json()["team"] == "risk"


def test_versions_list_is_newest_first_and_paginated(api: Any, owner: Any, catalogue: Any) -> None:
    body = api(owner).get(f"{VERSIONS}?limit=1").json()

    assert body["count"] == 2
    assert [v["version"] for v in body["results"]] == [2]
    assert body["next"]


# --- no N+1 -----------------------------------------------------------------------------------


def _queries(django_assert_max_num_queries: Any, client: Any, url: str) -> int:
    client.get(url)  # the first call also records the token's last use (once a minute)
    with django_assert_max_num_queries(30) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_model_list_query_count_does_not_grow_with_models(
    api: Any, owner: Any, risk_team: Any, django_assert_max_num_queries: Any
) -> None:
    client = api(owner)

    def add_models(start: int, stop: int) -> None:
        for i in range(start, stop):
            model = RegisteredModelFactory(name=f"m{i}", team=risk_team)
            dataset = EvaluationDatasetFactory(registered_model=model)
            model.evaluation_dataset = dataset
            model.save()
            version_row(model, 1, evaluation_dataset=dataset, tags=["a", "b"])

    add_models(0, 1)
    one = _queries(django_assert_max_num_queries, client, "/api/v1/models/")
    add_models(1, 10)
    ten = _queries(django_assert_max_num_queries, client, "/api/v1/models/")

    assert len(client.get("/api/v1/models/").json()["results"]) == 10
    assert one == ten


def test_version_list_query_count_does_not_grow_with_versions(
    api: Any, owner: Any, risk_model: Any, django_assert_max_num_queries: Any
) -> None:
    client = api(owner)
    dataset = EvaluationDatasetFactory(registered_model=risk_model)

    def add_versions(start: int, stop: int) -> None:
        for n in range(start, stop):
            version_row(
                risk_model, n, evaluation_dataset=dataset, uploaded_by=owner, tags=[f"t{n}", "x"]
            )

    add_versions(1, 2)
    one = _queries(django_assert_max_num_queries, client, VERSIONS)
    add_versions(2, 11)
    ten = _queries(django_assert_max_num_queries, client, VERSIONS)

    assert client.get(VERSIONS).json()["count"] == 10
    assert one == ten


# --- uploading versions: the happy paths ------------------------------------------------------


@pytest.fixture
def owner_client(api: Any, owner: Any, risk_model: Any, media_root: Path) -> Any:
    return api(owner)


def test_pipeline_upload_with_evaluation_csv_creates_pending_version_1_and_queues_validation(
    owner_client: Any, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    content = mf.skops_pipeline_bytes()
    csv = mf.evaluation_csv_bytes()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(
            owner_client, content, evaluation_data=csv, target=mf.TARGET, tags="q3, Candidate"
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["status"] == "pending"
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size"] == len(content)
    assert body["format"] == "skops"
    assert body["pending_trust"] == [] and body["untrusted_types"] == []
    assert body["uploaded_by"] == "dana"
    assert body["tags"] == ["candidate", "q3"]
    assert body["evaluation_dataset"] == {
        "sha256": hashlib.sha256(csv).hexdigest(),
        "target": mf.TARGET,
        "rows": 40,
    }
    assert body["url"] == f"{VERSIONS}1/"
    assert len(callbacks) == 1  # validation is enqueued on commit, not run here
    dataset = EvaluationDataset.objects.get()
    assert dataset.columns == [*mf.FEATURES, mf.TARGET]
    assert ModelVersion.objects.get().evaluation_dataset == dataset
    # The CSV becomes the model's standing set only once a version validates on it.
    assert RegisteredModel.objects.get().evaluation_dataset is None


def _validated(version: ModelVersion) -> None:
    from releases import services

    services.model_version_start_validation(version_id=version.pk)
    services.model_version_finish_validation(
        version_id=version.pk,
        report={"estimator_class": "x", "parameters": {}, "library_versions": {}, "signature": {}},
    )


def test_second_upload_reuses_the_standing_evaluation_set_and_identical_bytes_share_one_file(
    owner_client: Any, media_root: Path
) -> None:
    content = mf.skops_pipeline_bytes()
    first = upload(owner_client, content, evaluation_data=mf.evaluation_csv_bytes(), target="churn")
    _validated(ModelVersion.objects.get(version=1))
    # Naming the standing target again without a CSV is harmless (the upload page prefills it).
    second = upload(owner_client, content, "other-name.skops", target=mf.TARGET)

    assert first.status_code == 201 and second.status_code == 201, second.json()
    assert second.json()["version"] == 2
    assert second.json()["evaluation_dataset"] == first.json()["evaluation_dataset"]
    v1, v2 = ModelVersion.objects.order_by("version")
    assert v1.evaluation_dataset_id == v2.evaluation_dataset_id is not None
    assert v1.artifact.name == v2.artifact.name
    assert EvaluationDataset.objects.count() == 1
    sha = hashlib.sha256(content).hexdigest()
    assert [f for f in files_under(media_root) if f.startswith("artifacts/")] == [
        f"artifacts/{sha[:2]}/{sha}.skops"
    ]


def test_a_different_target_without_a_new_csv_is_400_naming_the_standing_one(
    owner_client: Any, media_root: Path
) -> None:
    content = mf.skops_pipeline_bytes()
    upload(owner_client, content, evaluation_data=mf.evaluation_csv_bytes(), target=mf.TARGET)
    _validated(ModelVersion.objects.get(version=1))

    response = upload(owner_client, content, target="defaulted")

    assert response.status_code == 400
    assert response.json()["field"] == "evaluation_data"
    assert "(target 'churn')" in response.json()["detail"]
    assert ModelVersion.objects.count() == 1


def test_onnx_upload_is_accepted_as_onnx(owner_client: Any, media_root: Path) -> None:
    content = mf.onnx_model_bytes()

    response = upload(owner_client, content, "model.bin")

    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "onnx"
    assert response.json()["pending_trust"] == []
    sha = hashlib.sha256(content).hexdigest()
    assert files_under(media_root) == [f"artifacts/{sha[:2]}/{sha}.onnx"]


# --- types outside the allowlist need a reviewer's trust --------------------------------------

KNN_TYPES = mf.KNN_UNTRUSTED_TYPES


@pytest.fixture
def knn_version(owner_client: Any, django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(owner_client, mf.skops_knn_bytes())
    assert response.status_code == 201, response.json()
    assert callbacks == []  # nothing is validated before a reviewer trusts the types
    return response.json()


TRUST = f"{VERSIONS}1/trust"


def test_knn_upload_lists_untrusted_types_and_waits_for_trust(knn_version: Any) -> None:
    assert knn_version["status"] == "pending"
    assert knn_version["untrusted_types"] == KNN_TYPES
    assert knn_version["pending_trust"] == KNN_TYPES


def test_reviewer_trusts_the_types_and_validation_is_queued(
    api: Any, reviewer: Any, knn_version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api(reviewer).post(TRUST, {"types": KNN_TYPES}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["pending_trust"] == []
    assert response.json()["trusted_types"] == KNN_TYPES
    assert len(callbacks) == 1
    event = AuditEvent.objects.get(action="version.trust_types")
    assert event.actor == reviewer and event.payload == {"types": KNN_TYPES}


def test_trusting_some_types_leaves_the_rest_pending(
    api: Any, reviewer: Any, knn_version: Any
) -> None:
    response = api(reviewer).post(TRUST, {"types": KNN_TYPES[1:]}, format="json")

    assert response.status_code == 200
    assert response.json()["pending_trust"] == KNN_TYPES[:1]


def test_uploader_cannot_trust_types_of_their_own_version_even_as_reviewer(
    api: Any, owner: Any, knn_version: Any
) -> None:
    MembershipFactory(user=owner, team=TeamFactory(name="risk"), role=Role.REVIEWER)

    response = api(owner).post(TRUST, {"types": KNN_TYPES}, format="json")

    assert response.status_code == 403
    assert "another reviewer" in response.json()["detail"]
    assert ModelVersion.objects.get().pending_trust == KNN_TYPES


@pytest.mark.parametrize(("persona", "status"), [("owner", 403), ("labeler", 403)])
def test_non_reviewers_of_the_team_cannot_trust_types(
    api: Any, request: pytest.FixtureRequest, knn_version: Any, persona: str, status: int
) -> None:
    response = api(request.getfixturevalue(persona)).post(
        TRUST, {"types": KNN_TYPES}, format="json"
    )

    assert response.status_code == status
    assert "review" in response.json()["detail"]
    assert ModelVersion.objects.get().trusted_types == []


def test_outsider_cannot_even_see_the_version_to_trust(
    api: Any, outsider: Any, knn_version: Any
) -> None:
    response = api(outsider).post(TRUST, {"types": KNN_TYPES}, format="json")

    assert response.status_code == 404
    assert ModelVersion.objects.get().trusted_types == []


@pytest.mark.parametrize(
    "types", [["builtins.eval"], ["sklearn.tree._tree.Tree"], [*KNN_TYPES, "x.Y"], []]
)
def test_trusting_a_type_the_version_does_not_list_is_400(
    api: Any, reviewer: Any, knn_version: Any, types: list[str]
) -> None:
    response = api(reviewer).post(TRUST, {"types": types}, format="json")

    assert response.status_code == 400
    assert ModelVersion.objects.get().trusted_types == []


# --- OpenAPI schema and docs ------------------------------------------------------------------


def _api_v1_paths() -> set[str]:
    from django.urls import URLResolver

    from webapp import urls as root_urls

    # Every app's API is included under api/v1/ (releases, explain, ...).
    modules = [api_urls] + [
        p.urlconf_module
        for p in root_urls.urlpatterns
        if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/"
    ]
    paths = set()
    for module in modules:
        for pattern in getattr(module, "urlpatterns", module):
            assert isinstance(pattern, URLPattern)
            route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
            paths.add(f"/api/v1/{route}")
    return paths


@pytest.mark.parametrize("as_user", [False, True], ids=["anonymous", "authenticated"])
def test_openapi_schema_lists_every_api_v1_path(api: Any, owner: Any, as_user: bool) -> None:
    response = api(owner if as_user else None).get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert _api_v1_paths() <= paths
    assert {p for p in paths if p.startswith("/api/v1/")} == _api_v1_paths()


def test_api_docs_page_loads_only_local_assets(api: Any, db: Any) -> None:
    response = api(None).get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", html)
    assert assets, html
    for url in assets:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html), html
    for url in assets:
        assert api(None).get(url).status_code == 200, url
