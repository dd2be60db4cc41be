"""HTML pages of the registry: what each persona sees, what they may not, and what stays cheap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from releases.models import (
    AuditEvent,
    EvaluationDataset,
    ModelVersion,
    RegisteredModel,
    Role,
    StageAssignment,
    Tag,
    VersionStatus,
)
from tests.factories import (
    EvaluationDatasetFactory,
    MembershipFactory,
    ModelVersionFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"

SIGNATURE = {
    "task": "classification",
    "target": "churn",
    "classes": ["churn", "stay"],
    "features": [
        {"name": "age", "type": "numeric"},
        {"name": "income", "type": "numeric"},
        {"name": "city", "type": "categorical", "categories": ["lyon", "nice", "paris"]},
        {"name": "zip_code", "type": "categorical", "categories": [str(i) for i in range(20)]},
    ],
}


def make_version(model: RegisteredModel, number: int, **fields: Any) -> ModelVersion:
    return ModelVersionFactory(registered_model=model, version=number, **fields)


def hold_stage(version: ModelVersion, stage: str = "production") -> ModelVersion:
    """Give the version a stage directly, as promotion would (without its checks)."""
    StageAssignment.objects.create(
        registered_model=version.registered_model, stage=stage, model_version=version,
        assigned_at=timezone.now(),
    )  # fmt: skip
    return version


def make_dataset(model: RegisteredModel, *, target: str = "churn") -> EvaluationDataset:
    dataset = EvaluationDatasetFactory(registered_model=model, target=target, sha256="ab" * 32)
    model.evaluation_dataset = dataset
    model.save(update_fields=["evaluation_dataset"])
    return dataset


def report(rows: int, **metrics: float) -> dict[str, Any]:
    return {"stage": "done", "evaluation": {"rows": rows, "metrics": metrics}}


def html_of(client: Any, user: Any, url: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def model_url(model: RegisteredModel) -> str:
    return reverse("model-detail", args=[model.name])


def version_url(model: RegisteredModel, number: int) -> str:
    return reverse("version-detail", args=[model.name, number])


def upload_url(model: RegisteredModel) -> str:
    return reverse("version-upload", args=[model.name])


# --- Untrusted text ---------------------------------------------------------------------------


def test_script_in_description_and_model_card_is_shown_escaped_never_run(client, owner, risk_model):
    risk_model.description = SCRIPT
    risk_model.model_card = f"# Credit risk\n\n{SCRIPT}\n\n[click](javascript:alert(1))"
    risk_model.save()

    for url in (model_url(risk_model), reverse("model-list"), reverse("home")):
        html = html_of(client, owner, url)
        assert "<script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    html = html_of(client, owner, model_url(risk_model))
    assert 'href="javascript:' not in html
    assert "<h1>Credit risk</h1>" in html


def test_script_in_version_notes_and_tags_is_escaped(client, owner, risk_model):
    mv = make_version(risk_model, 1, notes=SCRIPT, uploaded_by=owner)
    mv.tags.set([Tag.objects.create(name=SCRIPT)])
    html = html_of(client, owner, version_url(risk_model, 1))
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- Who may see what -------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["model", "version", "upload"])
def test_outsider_gets_404_on_another_teams_pages(client, outsider, risk_model, page):
    make_version(risk_model, 1)
    url = {
        "model": model_url(risk_model),
        "version": version_url(risk_model, 1),
        "upload": upload_url(risk_model),
    }[page]
    html = html_of(client, outsider, url, status=404)
    assert "credit-risk" in html  # the sentence names what was not found, nothing more
    assert "Not found" in html


@pytest.mark.parametrize("persona", ["labeler", "reviewer"])
def test_team_members_who_cannot_upload_get_403_on_the_upload_page(
    client, request, risk_model, persona
):
    html = html_of(client, request.getfixturevalue(persona), upload_url(risk_model), status=403)
    assert "Not allowed" in html
    assert "does not allow &#x27;upload&#x27;" in html


def test_missing_version_is_404(client, owner, risk_model):
    html_of(client, owner, version_url(risk_model, 9), status=404)


# --- Model page -------------------------------------------------------------------------------


def test_empty_model_page_teaches_browser_and_curl_upload(client, owner, risk_model):
    html = html_of(client, owner, model_url(risk_model))
    assert "No versions yet." in html
    assert f'href="{upload_url(risk_model)}"' in html
    assert "Upload a new version" in html
    assert 'curl -H "Authorization: Token $MODELGATE_TOKEN"' in html
    assert "/api/v1/models/credit-risk/versions/" in html
    assert 'sio.dump(model, "model.skops")' in html


def test_reviewer_sees_the_model_page_without_an_upload_button(client, reviewer, risk_model):
    html = html_of(client, reviewer, model_url(risk_model))
    assert upload_url(risk_model) not in html
    assert "Upload a new version" not in html


def test_model_page_lists_versions_and_the_standing_evaluation_set(client, owner, risk_model):
    make_dataset(risk_model)
    hold_stage(
        make_version(risk_model, 1, status=VersionStatus.APPROVED, estimator_class="x.Pipeline")
    )
    make_version(risk_model, 2, status=VersionStatus.VALIDATION_FAILED, uploaded_by=owner)
    html = html_of(client, owner, model_url(risk_model))
    assert "Versions (2)" in html
    assert '<span class="badge status-validation_failed">validation failed</span>' in html
    assert '<span class="badge stage-production">production v1</span>' in html
    assert "x.Pipeline" in html
    assert '<dd class="mono">churn</dd>' in html
    assert "abababababab…" in html


# --- Upload page ------------------------------------------------------------------------------


def test_upload_page_prefills_the_standing_target_and_says_it_is_reused(client, owner, risk_model):
    make_dataset(risk_model, target="defaulted")
    html = html_of(client, owner, upload_url(risk_model))
    assert "<title>Upload a new version of credit-risk · ModelGate</title>" in html
    assert 'id="id_target" name="target" value="defaulted"' in html
    assert "No CSV? The standing evaluation set is reused" in html
    assert 'data-api-url="/api/v1/models/credit-risk/versions/"' in html
    assert '<label for="id_artifact">Model file</label>' in html
    assert '<label for="id_evaluation_data">Evaluation CSV</label>' in html


def test_upload_page_without_an_evaluation_set_asks_for_a_csv(client, owner, risk_model):
    html = html_of(client, owner, upload_url(risk_model))
    assert "has no standing evaluation set yet" in html
    assert 'id="id_target" name="target" value=""' in html


# --- Version page -----------------------------------------------------------------------------


def test_version_page_shows_the_signature_table(client, owner, risk_model):
    make_version(
        risk_model, 1, status=VersionStatus.VALIDATED, signature=SIGNATURE, uploaded_by=owner
    )
    html = html_of(client, owner, version_url(risk_model, 1))
    assert "<title>credit-risk v1: validated · ModelGate</title>" in html
    assert "Signature: classification, 4 features" in html
    for name in ("age", "income", "city", "zip_code"):
        assert f'<td class="mono">{name}</td>' in html
    assert '<span class="chip">paris</span>' in html
    assert "+12 more" in html  # 20 categories, 8 shown
    assert '<span class="chip">19</span>' not in html


def test_pending_version_polls_and_failed_version_says_what_to_do(client, owner, risk_model):
    make_version(risk_model, 1, uploaded_by=owner)
    html = html_of(client, owner, version_url(risk_model, 1))
    assert "credit-risk v1: pending" in html
    assert 'data-poll="true"' in html
    assert "version.js" in html
    assert 'data-live-url="/models/credit-risk/versions/1/live/"' in html

    make_version(
        risk_model,
        2,
        status=VersionStatus.VALIDATION_FAILED,
        validation_error="The CSV lacks column 'income'.",
        validation_report={"stage": "failed"},
        uploaded_by=owner,
    )
    html = html_of(client, owner, version_url(risk_model, 2))
    assert 'data-poll="false"' in html
    assert "Why validation failed" in html
    assert "The CSV lacks column &#x27;income&#x27;." in html
    assert "What to do next" in html
    assert "Upload a fixed version" in html
    # The uploader may archive their own failed version: the page offers it.
    assert 'href="/models/credit-risk/versions/2/archive/"' in html


def test_version_page_shows_metrics_against_production_and_the_signature_change(
    client, owner, risk_model
):
    dataset = make_dataset(risk_model)
    hold_stage(make_version(
        risk_model,
        1,
        status=VersionStatus.APPROVED,
        signature=SIGNATURE,
        validation_report=report(120, accuracy=0.9, log_loss=0.3),
        evaluation_dataset=dataset,
    ))  # fmt: skip
    make_version(
        risk_model,
        2,
        status=VersionStatus.VALIDATED,
        evaluation_dataset=dataset,
        validation_report=report(118, accuracy=0.85, log_loss=0.25),
        signature_diff={"against_version": 1, "added": ["tenure"], "removed": ["zip_code"],
                        "retyped": [{"name": "age", "from": "numeric", "to": "categorical"}],
                        "changed": True},
    )  # fmt: skip
    html = html_of(client, owner, version_url(risk_model, 2))
    assert "The inputs differ from production v1." in html
    assert "<code>tenure</code>" in html
    assert "<code>zip_code</code>" in html
    assert "<code>age</code> (numeric → categorical)" in html
    assert "production v1</th>" in html
    assert '<span class="delta-worse">-0.0500</span>' in html  # accuracy fell
    assert '<span class="delta-better">-0.0500</span>' in html  # log loss fell: better
    assert "118 of 120 rows" in html


def test_version_page_links_the_artifact_and_shows_metadata(client, owner, risk_model):
    mv = make_version(
        risk_model,
        1,
        status=VersionStatus.VALIDATED,
        uploaded_by=owner,
        estimator_class="sklearn.pipeline.Pipeline",
        library_versions={"scikit-learn": "1.9.1"},
        parameters={"memory": None, "verbose": False},
        notes="Retrained on Q3",
    )
    AuditEvent.objects.create(actor=owner, action="version.upload", model_version=mv)
    html = html_of(client, owner, version_url(risk_model, 1))
    assert 'href="/api/v1/models/credit-risk/versions/1/artifact"' in html
    assert mv.sha256 in html
    assert "120.6\xa0KB" in html
    assert '<td class="mono">scikit-learn</td><td class="mono">1.9.1</td>' in html
    assert "Retrained on Q3" in html
    assert "<summary>Parameters (2)</summary>" in html
    assert "version.upload" in html


# --- Trusting types ---------------------------------------------------------------------------


@pytest.fixture
def untrusted_version(risk_model, owner):
    return make_version(
        risk_model,
        1,
        uploaded_by=owner,
        untrusted_types=[
            "sklearn.neighbors._kd_tree.KDTree",
            "sklearn.neighbors._ball_tree.BallTree",
        ],
    )


def test_reviewer_who_did_not_upload_trusts_types_from_the_version_page(
    client, reviewer, untrusted_version, django_capture_on_commit_callbacks
):
    url = version_url(untrusted_version.registered_model, 1)
    html = html_of(client, reviewer, url)
    assert 'action="/models/credit-risk/versions/1/trust/"' in html
    assert "Trust the ticked types for v1 only" in html

    trust = reverse("version-trust", args=["credit-risk", 1])
    with django_capture_on_commit_callbacks():
        response = client.post(
            trust,
            {
                "types": [
                    "sklearn.neighbors._ball_tree.BallTree",
                    "sklearn.neighbors._kd_tree.KDTree",
                ],
                "confirmed": "true",
            },
            follow=True,
        )
    assert response.status_code == 200
    assert (
        "Trusted for v1 only: sklearn.neighbors._ball_tree.BallTree, "
        "sklearn.neighbors._kd_tree.KDTree." in response.content.decode()
    )
    untrusted_version.refresh_from_db()
    assert untrusted_version.pending_trust == []


def test_uploader_who_is_also_reviewer_is_refused_with_the_reason(client, owner, untrusted_version):
    MembershipFactory(user=owner, team=TeamFactory(name="risk"), role=Role.REVIEWER)
    url = version_url(untrusted_version.registered_model, 1)
    assert "Trust the ticked types" not in html_of(client, owner, url)

    trust = reverse("version-trust", args=["credit-risk", 1])
    response = client.post(
        trust, {"types": ["sklearn.neighbors._ball_tree.BallTree"], "confirmed": "true"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "You uploaded this version; another reviewer must trust its types." in html
    assert 'class="form-error" role="alert"' in html
    untrusted_version.refresh_from_db()
    assert untrusted_version.trusted_types == []


@pytest.mark.parametrize("persona", ["labeler", "outsider"])
def test_wrong_user_cannot_trust_types(client, request, untrusted_version, persona):
    client.force_login(request.getfixturevalue(persona))
    trust = reverse("version-trust", args=["credit-risk", 1])
    response = client.post(
        trust, {"types": ["sklearn.neighbors._ball_tree.BallTree"], "confirmed": "true"}
    )
    assert response.status_code == {"labeler": 403, "outsider": 404}[persona]
    untrusted_version.refresh_from_db()
    assert untrusted_version.trusted_types == []


# --- Query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["model-list", "model", "version"])
def test_page_query_count_does_not_grow_with_versions(
    client, owner, risk_model, django_assert_max_num_queries, page
):
    dataset = make_dataset(risk_model)
    tag = Tag.objects.create(name="candidate")

    def add_versions(numbers: range) -> None:
        for n in numbers:
            mv = make_version(
                risk_model, n, uploaded_by=owner, evaluation_dataset=dataset, signature=SIGNATURE
            )
            mv.tags.set([tag])
            AuditEvent.objects.create(actor=owner, action="version.upload", model_version=mv)

    url = {
        "model-list": reverse("model-list"),
        "model": model_url(risk_model),
        "version": version_url(risk_model, 1),
    }[page]
    client.force_login(owner)
    add_versions(range(1, 3))
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_versions(range(3, 13))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_model_list_shows_the_latest_versions_status_at_a_glance(client, owner, risk_model):
    make_version(risk_model, 1, status=VersionStatus.APPROVED)
    make_version(risk_model, 2, status=VersionStatus.VALIDATION_FAILED)
    page = html_of(client, owner, reverse("model-list"))
    assert 'v2</a> <span class="badge status-validation_failed">validation failed</span>' in page


# --- Length limits: one sentence beside the field, the same rule in the API and the service -----

LONG_WORD = "x" * 5_000


def test_registering_with_a_5000_character_description_is_refused_beside_the_field(
    client, owner, risk_team
):
    client.force_login(owner)
    response = client.post(
        reverse("model-create"), {"name": "wordy", "team": "risk", "description": LONG_WORD}
    )
    assert response.status_code == 200
    html = response.content.decode()
    description_row = html[html.index('for="id_description"') :].split('class="form-row"')[0]
    assert "Keep the description to 500 characters or fewer (it has 5000)." in description_row
    assert not RegisteredModel.objects.filter(name="wordy").exists()


def test_editing_a_model_card_past_100000_characters_is_refused_beside_the_field(
    client, owner, risk_model
):
    client.force_login(owner)
    response = client.post(
        reverse("model-edit", args=[risk_model.name]),
        {"description": "ok", "model_card": "y" * 100_001},
    )
    assert response.status_code == 400
    assert "Keep the model card to 100000 characters or fewer" in response.content.decode()
    risk_model.refresh_from_db()
    assert risk_model.model_card == ""


@pytest.mark.parametrize(
    ("call", "field", "sentence"),
    [
        ("create_description", "description", "Keep the description to 500 characters"),
        ("create_card", "model_card", "Keep the model card to 100,000 characters"),
        ("update_description", "description", "Keep the description to 500 characters"),
        ("upload_notes", "notes", "Keep the notes to 10,000 characters or fewer (it has 10,001)"),
        ("upload_tag", "tags", "is longer than 50 characters"),
        ("upload_tags", "tags", "at most 20 tags; this one has 21"),
    ],
)
def test_services_refuse_overlong_texts_naming_the_field(owner, risk_model, call, field, sentence):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from releases import services
    from releases.errors import InvalidInput

    artifact = SimpleUploadedFile("model.skops", b"never read: the limits refuse first")
    calls = {
        "create_description": lambda: services.registered_model_create(
            actor=owner, name="wordy", team_name="risk", description="d" * 501
        ),
        "create_card": lambda: services.registered_model_create(
            actor=owner, name="wordy", team_name="risk", model_card="c" * 100_001
        ),
        "update_description": lambda: services.registered_model_update(
            actor=owner, registered_model=risk_model, description="d" * 501
        ),
        "upload_notes": lambda: services.model_version_upload(
            actor=owner, registered_model=risk_model, artifact=artifact, notes="n" * 10_001
        ),
        "upload_tag": lambda: services.model_version_upload(
            actor=owner, registered_model=risk_model, artifact=artifact, tags=["t" * 51]
        ),
        "upload_tags": lambda: services.model_version_upload(
            actor=owner,
            registered_model=risk_model,
            artifact=artifact,
            tags=[f"tag-{i}" for i in range(21)],
        ),
    }
    with pytest.raises(InvalidInput) as refused:
        calls[call]()
    assert refused.value.field == field
    assert sentence in refused.value.message
    assert not RegisteredModel.objects.filter(name="wordy").exists()
    assert not ModelVersion.objects.exists()


def test_twenty_tags_of_fifty_characters_are_accepted(owner, risk_model):
    from releases.limits import clean_tags

    tags = [f"{i:02d}" + "t" * 48 for i in range(20)]
    assert clean_tags([*tags, " ", tags[0].upper()]) == sorted(tags)


def test_api_upload_with_21_tags_is_a_400_naming_tags(api, owner, risk_model, media_root):
    from tests.releases import model_files as mf

    response = mf.upload(
        api(owner), mf.skops_pipeline_bytes(), tags=",".join(f"t{i}" for i in range(21))
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "tags"
    assert "at most 20 tags" in body["detail"]
    assert not ModelVersion.objects.exists()


def test_api_refuses_a_5000_character_description_naming_the_field(api, owner, risk_team):
    response = api(owner).post(
        "/api/v1/models/",
        {"name": "wordy", "team": "risk", "description": LONG_WORD},
        format="json",
    )
    assert response.status_code == 400
    assert "description" in response.json()["fields"]


def test_upload_page_states_the_limits(client, owner, risk_model):
    html = html_of(client, owner, upload_url(risk_model))
    assert 'maxlength="10000"' in html
    assert "up to 20 tags of 50 characters" in html


# --- Error pages and the favicon ---------------------------------------------------------------


def test_unknown_url_gets_the_styled_404_with_the_navigation(client, owner):
    html = html_of(client, owner, "/no/such/page/", status=404)
    assert "modelgate.css" in html
    assert '<nav aria-label="Main">' in html
    assert 'href="/models/"' in html
    assert "<h1>Not found</h1>" in html
    assert "/no/such/page/" in html


def test_unknown_url_signed_out_offers_sign_in(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'href="/accounts/login/"' in response.content.decode()


def test_500_page_is_styled_and_renders_without_the_database(rf, django_assert_num_queries):
    from django.views.defaults import server_error

    request = rf.get("/models/")
    with django_assert_num_queries(0):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert "modelgate.css" in html
    assert '<nav aria-label="Main">' in html
    assert "Something went wrong on our side" in html


def test_favicon_is_linked_from_every_page_and_favicon_ico_redirects_to_it(client, owner):
    from django.contrib.staticfiles import finders

    html = html_of(client, owner, reverse("home"))
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"
    path = finders.find("favicon.svg")
    assert path
    assert Path(path).read_text().startswith("<svg")


def test_api_docs_link_back_to_the_app(client, owner):
    html = html_of(client, owner, reverse("api-docs"))
    assert 'id="swagger-ui"' in html
    assert '<a href="/">← Back to ModelGate</a>' in html


def test_labeler_navigation_has_no_link_to_a_missing_queue(client, labeler):
    html = html_of(client, labeler, reverse("home"))
    assert "#queues" not in html


# --- A failed version: which stage, what was learned, what next ---------------------------------


def test_failed_version_marks_the_stage_it_failed_in_and_what_passed(client, owner, risk_model):
    dataset = make_dataset(risk_model)
    make_version(
        risk_model,
        1,
        uploaded_by=owner,
        status=VersionStatus.VALIDATION_FAILED,
        evaluation_dataset=dataset,
        validation_error="The CSV lacks column 'income'.",
        validation_report={
            "stage": "failed",
            "error_code": "unusable",
            "failed_stage": "evaluating",
        },
    )
    html = html_of(client, owner, version_url(risk_model, 1))
    assert '<li class="stage-done" data-stage="loading model">' in html
    assert '<li class="stage-done" data-stage="reading signature">' in html
    assert '<li class="stage-failed" data-stage="evaluating">' in html
    assert "Why validation failed while evaluating" in html
    assert "It passed: loading model, reading signature." in html
    assert 'target <span class="mono">churn</span> (120 rows)' in html
    assert "known after validation" not in html
    assert "Not read before the failure." in html
    assert f'href="{upload_url(risk_model)}">Upload a fixed version</a>' in html


def test_failed_version_without_a_recorded_stage_marks_none_done(client, owner, risk_model):
    make_version(
        risk_model,
        1,
        uploaded_by=owner,
        status=VersionStatus.VALIDATION_FAILED,
        validation_error="Validation crashed.",
        validation_report={"stage": "failed", "error_code": "crashed"},
    )
    html = html_of(client, owner, version_url(risk_model, 1))
    assert "stage-done" not in html
    assert '<li class="stage-failed" data-stage="failed">failed</li>' in html
    assert "The stage it failed in was not recorded." in html


def test_failure_from_untrusted_types_says_to_ask_a_reviewer(client, reviewer, risk_model, owner):
    make_version(
        risk_model,
        1,
        uploaded_by=owner,
        status=VersionStatus.VALIDATION_FAILED,
        validation_error="This model contains types that have not been reviewed: mylib.X.",
        validation_report={"stage": "failed", "error_code": "untrusted_type"},
    )
    html = html_of(client, reviewer, version_url(risk_model, 1))
    assert "Ask a reviewer of team risk to trust them" in html
    # A reviewer cannot upload: the page says who can, and links nowhere it may not go.
    assert "A data scientist of team risk can upload a fixed version." in html
    assert upload_url(risk_model) not in html


# --- Parameters and libraries as tables --------------------------------------------------------


def test_parameters_are_a_table_with_nested_steps_flattened(client, owner, risk_model):
    from releases.artifact_safety import describe_estimator
    from tests.releases.model_files import pipeline_model

    described = describe_estimator(pipeline_model())
    make_version(
        risk_model,
        1,
        status=VersionStatus.VALIDATED,
        parameters=described["params"],
        library_versions={"scikit-learn": "1.9.1", "opsets": {"": 17, "ai.onnx.ml": 3}},
    )
    html = html_of(client, owner, version_url(risk_model, 1))
    assert "{&quot;" not in html and "&#x27;scikit-learn&#x27;:" not in html  # no raw dumps
    row = '<tr class="param-{}"><td class="mono">{}</td><td class="mono">{}</td></tr>'
    assert row.format("steps", "steps", "pre → model") in html
    assert row.format("estimator", "pre__cat", "OneHotEncoder on city, plan") in html
    assert row.format("value", "pre__cat__handle_unknown", "ignore") in html
    assert row.format("value", "pre__num__with_mean", "True") in html
    assert row.format("value", "model__C", "1.0") in html
    assert '<td class="mono">opsets</td><td class="mono">ai.onnx 17, ai.onnx.ml 3</td>' in html


def test_every_flattened_parameter_name_is_one_scikit_learn_accepts():
    from releases.artifact_safety import describe_estimator
    from releases.version_page import parameter_rows
    from tests.releases.model_files import pipeline_model

    model = pipeline_model()
    names = {r["name"] for r in parameter_rows(describe_estimator(model)["params"])}
    assert names - {"steps", "pre__transformers"} <= set(model.get_params(deep=True))


# --- The live part of the version page ---------------------------------------------------------


def live_url(model: RegisteredModel, number: int) -> str:
    return reverse("version-live", args=[model.name, number])


def test_live_part_is_204_until_the_version_changes_then_the_new_fragment(
    client, owner, risk_model
):
    from releases.version_page import live_fingerprint

    mv = make_version(risk_model, 1, uploaded_by=owner)
    client.force_login(owner)
    response = client.get(live_url(risk_model, 1), {"since": live_fingerprint(mv)})
    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"

    ModelVersion.objects.filter(pk=mv.pk).update(
        status=VersionStatus.VALIDATING, validation_report={"stage": "evaluating"}
    )
    response = client.get(live_url(risk_model, 1), {"since": live_fingerprint(mv)})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="version-live"')
    assert "<html" not in html
    assert '<span class="badge status-validating">validating</span>' in html
    assert '<li class="stage-active" data-stage="evaluating">' in html
    assert 'data-poll="true"' in html


def test_live_part_stops_polling_once_the_version_is_finished(client, owner, risk_model):
    make_version(risk_model, 1, uploaded_by=owner, status=VersionStatus.VALIDATED)
    html = html_of(client, owner, live_url(risk_model, 1))
    assert 'data-poll="false"' in html


def test_uploaders_live_part_moves_from_awaiting_trust_to_queued_after_a_reviewer_trusts(
    client, owner, reviewer, untrusted_version, django_capture_on_commit_callbacks
):
    from releases import services
    from releases.version_page import live_fingerprint

    html = html_of(client, owner, live_url(untrusted_version.registered_model, 1))
    assert "Waiting for a reviewer to trust 2 types" in html
    assert 'data-poll="true" data-interval="5000"' in html  # a wait for people: poll slower
    seen = live_fingerprint(untrusted_version)

    with django_capture_on_commit_callbacks():
        services.model_version_trust_types(
            actor=reviewer,
            model_version=untrusted_version,
            types=["sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree"],
        )
    response = client.get(live_url(untrusted_version.registered_model, 1), {"since": seen})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued: a worker will pick it up shortly." in html
    assert 'data-poll="true" data-interval="2000"' in html
    assert html.count('<span class="badge status-validated">trusted</span>') == 2


@pytest.mark.parametrize("persona", ["outsider", None])
def test_live_part_is_hidden_from_outsiders_and_the_signed_out(
    client, request, risk_model, persona
):
    make_version(risk_model, 1)
    if persona:
        client.force_login(request.getfixturevalue(persona))
    response = client.get(live_url(risk_model, 1))
    assert response.status_code == (404 if persona else 302)


# --- Trusting types: unticked, explained, confirmed --------------------------------------------


def test_trust_boxes_start_unticked_and_each_type_is_explained(client, reviewer, untrusted_version):
    html = html_of(client, reviewer, version_url(untrusted_version.registered_model, 1))
    boxes = [line for line in html.split("<input") if 'name="types"' in line]
    assert len(boxes) == 2
    assert not any(" checked" in box.split(">")[0] for box in boxes)
    assert "sklearn.neighbors._kd_tree.KDTree is a scikit-learn class." in html
    assert '<dialog class="confirm" id="trust-confirm"' in html


def test_trusting_without_confirmation_shows_a_page_naming_each_type_and_trusts_nothing(
    client, reviewer, untrusted_version
):
    client.force_login(reviewer)
    trust = reverse("version-trust", args=["credit-risk", 1])
    response = client.post(trust, {"types": ["sklearn.neighbors._ball_tree.BallTree"]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Trust 1 type for credit-risk v1 only?" in html
    assert "<code>sklearn.neighbors._ball_tree.BallTree</code>" in html
    assert "KDTree" not in html  # only what was ticked
    assert (
        '<input type="hidden" name="types" value="sklearn.neighbors._ball_tree.BallTree">' in html
    )
    assert '<input type="hidden" name="confirmed" value="true">' in html
    untrusted_version.refresh_from_db()
    assert untrusted_version.trusted_types == []
    assert not AuditEvent.objects.filter(action="version.trust_types").exists()


def test_trusting_nothing_is_refused_beside_the_list(client, reviewer, untrusted_version):
    client.force_login(reviewer)
    response = client.post(reverse("version-trust", args=["credit-risk", 1]), {"confirmed": "true"})
    assert response.status_code == 400
    assert "Tick at least one type to trust." in response.content.decode()


def test_a_type_reviewers_may_not_trust_has_no_checkbox_and_names_the_admin_setting(
    client, reviewer, owner, risk_model
):
    make_version(
        risk_model,
        1,
        uploaded_by=owner,
        untrusted_types=["builtins.eval", "mylib.X", "sklearn.neighbors._kd_tree.KDTree"],
    )
    html = html_of(client, reviewer, version_url(risk_model, 1))
    assert 'value="builtins.eval"' not in html
    assert 'value="mylib.X"' not in html
    assert 'value="sklearn.neighbors._kd_tree.KDTree"' in html
    assert "Only an administrator can allow this type (MODELGATE_EXTRA_TRUSTED_TYPES)." in html


def test_a_type_an_admin_allowed_everywhere_shows_as_trusted(
    client, reviewer, owner, risk_model, settings
):
    settings.MODELGATE_EXTRA_TRUSTED_TYPES = frozenset({"mylib.X"})
    make_version(
        risk_model,
        1,
        uploaded_by=owner,
        untrusted_types=["mylib.X", "sklearn.neighbors._kd_tree.KDTree"],
    )
    html = html_of(client, reviewer, version_url(risk_model, 1))
    assert 'value="mylib.X"' not in html
    assert 'value="sklearn.neighbors._kd_tree.KDTree"' in html
    assert html.count('<span class="badge status-validated">trusted</span>') == 1


# --- A reviewer's home -------------------------------------------------------------------------


def test_reviewer_home_lists_validated_and_awaiting_trust_versions_oldest_first(
    client, reviewer, owner, outsider, risk_model
):
    from releases.models import Team

    other = RegisteredModel.objects.create(name="churn", team=Team.objects.get(name="growth"))
    make_version(risk_model, 1, uploaded_by=owner, status=VersionStatus.VALIDATED)
    make_version(risk_model, 2, uploaded_by=owner, untrusted_types=["mylib.X"])
    make_version(risk_model, 3, uploaded_by=owner, status=VersionStatus.VALIDATED)
    make_version(risk_model, 4, uploaded_by=owner, untrusted_types=["mylib.Y"])
    make_version(risk_model, 5, uploaded_by=reviewer, status=VersionStatus.VALIDATED)  # own
    make_version(risk_model, 6, uploaded_by=owner, status=VersionStatus.PENDING)  # queued
    make_version(other, 1, uploaded_by=outsider, status=VersionStatus.VALIDATED)  # other team
    make_version(
        other, 2, uploaded_by=outsider, untrusted_types=["mylib.Z"]
    )  # other team, needs trust

    html = html_of(client, reviewer, reverse("home"))
    assert "Versions awaiting your review (4)" in html
    trust = html[html.index("Types to trust before validation can start (2)") :]
    validated = trust[trust.index("Validated, ready for your decision (2)") :]
    trust = trust[: trust.index("Validated, ready for your decision")]
    assert trust.index("/versions/2/") < trust.index("/versions/4/")
    assert "/versions/1/" not in trust
    assert validated.index("/versions/1/") < validated.index("/versions/3/")
    for absent in ("/versions/5/", "/versions/6/", "/models/churn/"):
        assert absent not in html[html.index('id="reviews"') : html.index('id="models-h"')]


def test_my_uploads_leave_teams_i_left_and_follow_the_team_filter(client, owner, risk_model):
    from releases.models import Membership, Team

    growth_model = RegisteredModel.objects.create(name="churn", team=TeamFactory(name="growth"))
    MembershipFactory(user=owner, team=Team.objects.get(name="growth"), role=Role.DATA_SCIENTIST)
    make_version(risk_model, 1, uploaded_by=owner)
    make_version(growth_model, 1, uploaded_by=owner)

    html = html_of(client, owner, reverse("home"))
    assert "/models/credit-risk/versions/1/" in html and "/models/churn/versions/1/" in html

    html = html_of(client, owner, reverse("home") + "?team=growth")
    assert "/models/churn/versions/1/" in html
    assert "/models/credit-risk/versions/1/" not in html
    assert "Models of team growth" in html

    Membership.objects.filter(user=owner, team__name="growth").delete()
    html = html_of(client, owner, reverse("home"))
    assert "/models/churn/versions/1/" not in html


def test_home_query_count_does_not_grow_with_versions(
    client, reviewer, owner, risk_model, django_assert_max_num_queries
):
    def add(numbers: range) -> None:
        for n in numbers:
            status = VersionStatus.VALIDATED if n % 2 else VersionStatus.PENDING
            make_version(risk_model, n, uploaded_by=owner, status=status, untrusted_types=["m.X"])

    client.force_login(reviewer)
    add(range(1, 3))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("home")).status_code == 200
    add(range(3, 15))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("home")).status_code == 200


def test_a_metric_the_validator_could_not_compute_shows_its_reason(client, owner, risk_model):
    dataset = make_dataset(risk_model)
    make_version(
        risk_model,
        1,
        status=VersionStatus.VALIDATED,
        evaluation_dataset=dataset,
        validation_report={
            "stage": "done",
            "evaluation": {
                "rows": 120,
                "metrics": {"accuracy": 0.9, "roc_auc": None},
                "undefined_metrics": {"roc_auc": "only one class in the evaluation target"},
            },
        },
    )
    html = html_of(client, owner, version_url(risk_model, 1))
    assert '<span class="muted">undefined</span>' in html
    assert "only one class in the evaluation target" in html
    assert "0.9000" in html


@pytest.mark.parametrize(
    ("handler", "status", "heading"),
    [
        ("bad_request", 400, "ModelGate could not read that request"),
        ("permission_denied", 403, "Not allowed"),
    ],
)
def test_other_error_pages_are_styled(rf, owner, handler, status, heading):
    from django.core.exceptions import PermissionDenied
    from django.views import defaults

    request = rf.get("/models/")
    request.user = owner
    response = getattr(defaults, handler)(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == status
    assert "modelgate.css" in html
    assert '<nav aria-label="Main">' in html
    assert f"<h1>{heading}</h1>" in html


def test_a_form_posted_without_its_csrf_token_gets_a_sentence_not_djangos_page(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("model-create"), {"name": "x", "team": "risk"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>The form expired</h1>" in html
    assert "modelgate.css" in html
