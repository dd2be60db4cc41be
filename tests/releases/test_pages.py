"""HTML pages of the registry: what each persona sees, what they may not, and what stays cheap."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from releases.models import (
    AuditEvent,
    EvaluationDataset,
    ModelVersion,
    RegisteredModel,
    Role,
    Tag,
    VersionStatus,
)
from tests.factories import MembershipFactory, TeamFactory

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
    digest = hashlib.sha256(f"{model.name}-{number}".encode()).hexdigest()
    defaults: dict[str, Any] = {
        "artifact": f"artifacts/{digest}.skops",
        "sha256": digest,
        "size": 123_456,
        "format": "skops",
    }
    return ModelVersion.objects.create(
        registered_model=model, version=number, **{**defaults, **fields}
    )


def make_dataset(model: RegisteredModel, *, target: str = "churn") -> EvaluationDataset:
    dataset = EvaluationDataset.objects.create(
        registered_model=model,
        file="datasets/eval.csv",
        original_name="eval.csv",
        sha256="ab" * 32,
        size=2048,
        target=target,
        n_rows=120,
        columns=["age", "income", "city", target],
    )
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
    make_version(risk_model, 1, status=VersionStatus.APPROVED, estimator_class="x.Pipeline")
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
    assert 'data-api-url="/api/v1/models/credit-risk/versions/1/"' in html

    make_version(
        risk_model,
        2,
        status=VersionStatus.VALIDATION_FAILED,
        validation_error="The CSV lacks column 'income'.",
        validation_report={"stage": "failed"},
    )
    html = html_of(client, owner, version_url(risk_model, 2))
    assert "version.js" not in html
    assert "Why validation failed" in html
    assert "The CSV lacks column &#x27;income&#x27;." in html
    assert "What to do next:" in html
    assert "Upload a fixed version" in html


def test_version_page_shows_metrics_against_production_and_the_signature_change(
    client, owner, risk_model
):
    dataset = make_dataset(risk_model)
    make_version(
        risk_model,
        1,
        status=VersionStatus.APPROVED,
        signature=SIGNATURE,
        validation_report=report(120, accuracy=0.9, log_loss=0.3),
        evaluation_dataset=dataset,
    )  # fmt: skip
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
    assert "scikit-learn 1.9.1" in html
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
    assert "Trust for v1 only" in html

    trust = reverse("version-trust", args=["credit-risk", 1])
    with django_capture_on_commit_callbacks():
        response = client.post(
            trust,
            {
                "types": [
                    "sklearn.neighbors._ball_tree.BallTree",
                    "sklearn.neighbors._kd_tree.KDTree",
                ]
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
    assert "Trust for v1 only" not in html_of(client, owner, url)

    trust = reverse("version-trust", args=["credit-risk", 1])
    response = client.post(trust, {"types": ["sklearn.neighbors._ball_tree.BallTree"]})
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
    response = client.post(trust, {"types": ["sklearn.neighbors._ball_tree.BallTree"]})
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
