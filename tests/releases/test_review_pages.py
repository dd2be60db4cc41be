"""The review screen and the release confirmations, as each persona sees them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from releases import selectors
from releases.models import AuditEvent, ModelVersion, Role, VersionStatus
from releases.review_page import parameter_diff
from tests.factories import MembershipFactory, TeamFactory
from tests.releases.releasing import *  # noqa: F403 -- fixtures
from tests.releases.releasing import approved, stored_version, tamper

pytestmark = pytest.mark.django_db

REVIEW = "/models/credit-risk/versions/{}/review/"
PROMOTE = "/models/credit-risk/versions/{}/promote/?stage={}"

COMPARED = {
    "stage": "done",
    "evaluation": {"rows": 120, "metrics": {"accuracy": 0.91, "log_loss": 0.35}},
    "comparison": {
        "against_version": 1, "rows": 120, "agreement_rate": 0.975, "disagreements": 3,
        "metrics": {
            "accuracy": {"candidate": 0.91, "production": 0.89, "delta": 0.02, "verdict": "better"},
            "log_loss": {"candidate": 0.35, "production": 0.30, "delta": 0.05, "verdict": "worse"},
        },
        "signature_diff": {"against_version": 1, "changed": True, "added": ["tenure"],
                           "removed": [], "retyped": []},
    },
    "gates": [
        {"name": "accuracy ≥ 0.9", "kind": "min_metric", "metric": "accuracy", "threshold": 0.9,
         "measured": 0.91, "passed": True, "detail": ""},
        {"name": "p99 latency ≤ 50 ms", "kind": "max_latency", "metric": None, "threshold": 50,
         "measured": 61.5, "passed": False, "detail": "batch of 100"},
    ],
    "gates_passed": False,
}  # fmt: skip

PARAMS_V1 = {"C": 1.0, "max_iter": 100, "solver": "lbfgs"}
PARAMS_V2 = {"C": 0.5, "max_iter": 100, "penalty": "l2"}


def get(client: Any, user: Any, url: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:300]
    return response.content.decode()


@pytest.fixture
def in_production(media_root, risk_model, owner, reviewer):
    """v1 serves production; v2, uploaded by the owner, waits for review with a comparison."""
    from releases import services

    v1 = stored_version(risk_model, 1, uploaded_by=owner, parameters=PARAMS_V1)
    approved(v1, reviewer)
    services.model_version_promote(actor=reviewer, model_version=v1, stage="production")
    v2 = stored_version(
        risk_model, 2, uploaded_by=owner, parameters=PARAMS_V2, validation_report=COMPARED
    )
    return v1, v2


def test_review_page_shows_the_candidate_beside_production(client, reviewer2, in_production):
    html = get(client, reviewer2, REVIEW.format(2))
    assert "<title>credit-risk v2: ready for review · ModelGate</title>" in html
    assert "v2 beside production v1" in html
    assert '<span class="delta-better">+0.0200 ▲ better</span>' in html
    assert '<span class="delta-worse">+0.0500 ▼ worse</span>' in html  # log loss rose
    assert "<strong>97.5%</strong> of 120 rows get the same prediction; 3 differ." in html
    assert "{#" not in html and "{%" not in html  # no template source leaks onto the page
    assert "<code>tenure</code>" in html
    # Parameter diff: changed, added, removed; the unchanged one counted.
    assert '<tr class="change-changed"><td class="mono">C</td><td class="mono">1.0</td>' in html
    assert '<tr class="change-added"><td class="mono">penalty</td>' in html
    assert '<tr class="change-removed"><td class="mono">solver</td>' in html
    assert "1 other parameter unchanged." in html
    # Gates with measured values and thresholds.
    assert "p99 latency ≤ 50 ms" in html
    assert "61.5000" in html and "50.0000" in html
    assert "Failed gates keep v2 out of production" in html
    assert "0 of 1 approval" in html
    assert 'name="decision" value="approve"' in html
    assert 'name="decision" value="reject"' in html


def test_parameter_diff_flattens_nested_steps():
    old = {"steps": [["scale", {"class": "a.Scaler", "params": {"with_mean": True}}]]}
    new = {"steps": [["scale", {"class": "a.Scaler", "params": {"with_mean": False}}]]}
    rows = parameter_diff(new, old)["rows"]
    assert rows == [
        {
            "name": "scale__with_mean",
            "production": "True",
            "candidate": "False",
            "change": "changed",
        }
    ]


def test_review_page_of_an_old_version_without_comparison_or_gates(
    client, reviewer, media_root, risk_model, owner
):
    stored_version(risk_model, 1, uploaded_by=owner)
    html = get(client, reviewer, REVIEW.format(1))
    assert "Nothing serves production yet" in html
    assert "No release gates were checked for this version" in html
    assert 'value="approve"' in html


def test_reviewer_approves_from_the_page_and_sees_promotion(client, reviewer2, in_production):
    client.force_login(reviewer2)
    response = client.post(REVIEW.format(2), {"decision": "approve", "comment": "ok"}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "You approved v2." in html
    assert "Promote to production…" in html
    assert ModelVersion.objects.get(version=2).status == VersionStatus.APPROVED


def test_uploader_is_refused_on_the_page_too(client, owner, in_production):
    MembershipFactory(user=owner, team=TeamFactory(name="risk"), role=Role.REVIEWER)
    html = get(client, owner, REVIEW.format(2))
    assert "You uploaded v2; another reviewer must review it." in html
    assert 'value="approve"' not in html
    response = client.post(REVIEW.format(2), {"decision": "approve", "comment": ""})
    assert response.status_code == 403
    assert "another reviewer must review it" in response.content.decode()
    assert ModelVersion.objects.get(version=2).status == VersionStatus.VALIDATED


@pytest.mark.parametrize(("persona", "status"), [("labeler", 403), ("growth_reviewer", 404),
                                                 ("outsider", 404)])  # fmt: skip
def test_wrong_user_cannot_decide_on_the_page(client, request, in_production, persona, status):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(REVIEW.format(2), {"decision": "approve"})
    assert response.status_code == status
    assert ModelVersion.objects.get(version=2).status == VersionStatus.VALIDATED


def test_rejecting_without_a_comment_is_refused_beside_the_box(client, reviewer2, in_production):
    client.force_login(reviewer2)
    response = client.post(REVIEW.format(2), {"decision": "reject", "comment": " "})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Say why you reject it: a comment is required." in html
    assert 'aria-invalid="true"' in html
    assert ModelVersion.objects.get(version=2).status == VersionStatus.VALIDATED


def test_bad_decision_on_the_page_is_a_400(client, reviewer2, in_production):
    client.force_login(reviewer2)
    response = client.post(REVIEW.format(2), {"decision": "ship-it"})
    assert response.status_code == 400
    assert "Choose approve or reject." in response.content.decode()


def test_untrusted_types_show_the_trust_form_and_block_the_approve_button(
    client, reviewer, media_root, risk_model, owner
):
    stored_version(
        risk_model, 1, uploaded_by=owner, untrusted_types=["sklearn.neighbors._kd_tree.KDTree"]
    )
    html = get(client, reviewer, REVIEW.format(1))
    assert "{#" not in html and "{%" not in html
    assert 'id="trust-form"' in html
    assert '<input type="hidden" name="return_to" value="review">' in html
    assert 'type="checkbox" name="types" value="sklearn.neighbors._kd_tree.KDTree"' in html
    assert " checked" not in html.split('id="trust-form"')[1].split("</form>")[0]
    assert 'value="approve" disabled' in html
    response = client.post(REVIEW.format(1), {"decision": "approve"})
    assert response.status_code == 409
    assert (
        "Trust or refuse these types before approving: sklearn.neighbors._kd_tree.KDTree."
        in response.content.decode()
    )
    trust = reverse("version-trust", args=["credit-risk", 1])
    back = client.post(
        trust,
        {
            "types": ["sklearn.neighbors._kd_tree.KDTree"],
            "confirmed": "true",
            "return_to": "review",
        },
    )
    assert back.status_code == 302
    assert back["Location"] == REVIEW.format(1)


def test_promote_confirmation_says_what_changes_for_live_traffic(client, reviewer, reviewer2,
                                                                 in_production):  # fmt: skip
    _, v2 = in_production
    v2.validation_report = {"stage": "done"}  # passing (no) gates
    v2.save()
    approved(v2, reviewer2)
    html = get(client, reviewer, PROMOTE.format(2, "production"))
    assert "Production will serve v2 instead of v1." in html
    assert "Promote v2 to production" in html
    assert selectors.production_version(registered_model=v2.registered_model).version == 1
    response = client.post(PROMOTE.format(2, "production"), {"comment": "ship"}, follow=True)
    assert "Production now serves v2." in response.content.decode()
    assert selectors.production_version(registered_model=v2.registered_model).version == 2
    staging = get(client, reviewer, PROMOTE.format(2, "staging"))
    assert "Staging serves nothing yet; it will serve v2." in staging


def test_promote_with_failing_gates_offers_override_only_to_admins(
    client, reviewer, reviewer2, admin_user, in_production
):
    _, v2 = in_production
    approved(v2, reviewer2)
    html = get(client, reviewer, PROMOTE.format(2, "production"))
    assert "v2 failed its release gates</strong>: p99 latency ≤ 50 ms" in html
    assert "Only an admin can override them." in html
    refused = client.post(PROMOTE.format(2, "production"), {"comment": "now"})
    assert refused.status_code == 409
    admin_html = get(client, admin_user, PROMOTE.format(2, "production"))
    assert 'name="override_reason"' in admin_html
    client.post(PROMOTE.format(2, "production"), {"override_reason": "latency SLO is 80 ms"})
    assert selectors.production_version(registered_model=v2.registered_model).version == 2


def test_tampered_artifact_is_named_on_the_review_page_and_blocks_promotion(
    client, reviewer, reviewer2, in_production
):
    _, v2 = in_production
    v2.validation_report = {"stage": "done"}
    v2.save()
    approved(v2, reviewer2)
    tamper(v2)
    html = get(client, reviewer, REVIEW.format(2))
    assert "The stored file changed since it was uploaded" in html
    assert "It cannot be approved, promoted or served." in html
    response = client.post(PROMOTE.format(2, "production"), {"comment": ""})
    assert response.status_code == 409
    assert "no longer hashes to the sha256" in response.content.decode()
    assert selectors.production_version(registered_model=v2.registered_model).version == 1


def test_wrong_stage_in_the_promote_url_is_a_400(client, reviewer, in_production):
    get(client, reviewer, PROMOTE.format(1, "live"), status=400)


@pytest.mark.parametrize(
    ("persona", "status"), [("labeler", 403), ("owner", 403), ("growth_reviewer", 404)]
)
def test_wrong_user_cannot_open_promote_rollback_or_policy(client, request, in_production,
                                                            persona, status):  # fmt: skip
    user = request.getfixturevalue(persona)
    get(client, user, PROMOTE.format(1, "staging"), status=status)
    get(client, user, "/models/credit-risk/rollback/?stage=production", status=status)
    client.force_login(user)
    assert client.post(PROMOTE.format(1, "staging")).status_code == status
    policy = client.post("/models/credit-risk/approvals/", {"required_approvals": "2"})
    assert policy.status_code == status


def test_rollback_from_the_model_page(client, reviewer, reviewer2, in_production):
    from releases import services

    _, v2 = in_production
    v2.validation_report = {"stage": "done"}
    v2.save()
    approved(v2, reviewer2)
    services.model_version_promote(actor=reviewer, model_version=v2, stage="production")
    model_html = get(client, reviewer, "/models/credit-risk/")
    assert "Roll back production to v1…" in model_html
    assert '<span class="badge stage-production">production v2</span>' in model_html
    assert "Promote: v1 → v2" in model_html
    confirm = get(client, reviewer, "/models/credit-risk/rollback/?stage=production")
    assert "Production will serve v1 instead of v2." in confirm
    response = client.post(
        "/models/credit-risk/rollback/",
        {"stage": "production", "comment": "p99 regressed"},
        follow=True,
    )
    html = response.content.decode()
    assert "Rolled back: production serves v1 again." in html
    assert "Rollback: v2 → v1" in html
    assert "p99 regressed" in html


def test_rollback_page_with_nothing_earlier_says_so(client, reviewer, in_production):
    html = get(client, reviewer, "/models/credit-risk/rollback/?stage=production")
    assert "has no earlier production version to roll back to." in html
    assert 'type="submit"' not in html.split("<main")[1]


def test_version_page_shows_stage_chips_and_release_links(client, reviewer, in_production):
    html = get(client, reviewer, "/models/credit-risk/versions/1/")
    assert '<span class="badge stage-production">production</span>' in html
    assert "Promote to staging…" in html
    assert "Archive…" in html
    html2 = get(client, reviewer, "/models/credit-risk/versions/2/")
    assert f'href="{REVIEW.format(2)}"' in html2


def test_archive_page_says_production_will_serve_nothing(client, reviewer, in_production):
    html = get(client, reviewer, "/models/credit-risk/versions/1/archive/")
    assert "Production will serve nothing instead of v1" in html
    client.post("/models/credit-risk/versions/1/archive/", {"comment": "retired"})
    assert ModelVersion.objects.get(version=1).status == VersionStatus.ARCHIVED
    assert selectors.production_version(registered_model=ModelVersion.objects.get(version=1)
                                        .registered_model) is None  # fmt: skip


def test_owner_archives_own_unpromoted_version_but_not_production(client, owner, in_production):
    get(client, owner, "/models/credit-risk/versions/1/archive/")  # the page opens
    client.force_login(owner)
    refused = client.post("/models/credit-risk/versions/1/archive/", {"comment": ""})
    assert refused.status_code == 403
    assert "holds production" in refused.content.decode()
    assert client.post("/models/credit-risk/versions/2/archive/").status_code == 302
    assert ModelVersion.objects.get(version=2).status == VersionStatus.ARCHIVED


def test_labeler_cannot_archive_on_the_page(client, labeler, in_production):
    client.force_login(labeler)
    assert client.post("/models/credit-risk/versions/2/archive/").status_code == 403


def test_reviewer_sets_required_approvals_from_the_model_page(client, reviewer, in_production):
    html = get(client, reviewer, "/models/credit-risk/")
    assert 'action="/models/credit-risk/approvals/"' in html
    response = client.post("/models/credit-risk/approvals/", {"required_approvals": "2"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="model.update").count() == 1
    bad = client.post("/models/credit-risk/approvals/", {"required_approvals": "9"})
    assert bad.status_code == 400


def test_home_inbox_links_to_the_review_page_and_the_navigation_counts_it(
    client, reviewer, reviewer2, in_production, media_root, risk_model, owner
):
    stored_version(risk_model, 3, uploaded_by=owner, status="pending", untrusted_types=["x.Y"])
    html = get(client, reviewer2, "/")
    assert f'href="{REVIEW.format(2)}">Review v2</a>' in html
    assert f'href="{REVIEW.format(3)}">v3</a>' in html
    assert '<span class="count" aria-label="2 waiting">2</span>' in html
    # Once rita approved, v2 no longer waits for her.
    client.post(REVIEW.format(2), {"decision": "approve"})
    html = get(client, reviewer2, "/")
    assert '<span class="count" aria-label="1 waiting">1</span>' in html
    # The uploader (a data scientist) has no review link or count.
    assert 'class="count"' not in get(client, owner, "/")


def test_navigation_count_is_one_query(client, reviewer, in_production, rf):
    from releases.context_processors import navigation

    request = rf.get("/")
    request.user = reviewer
    navigation(request)  # roles cached on the user
    with CaptureQueriesContext(connection) as queries:
        assert navigation(request)["nav_review_count"] == 1
    assert len(queries.captured_queries) == 1


def test_promote_page_of_a_version_not_yet_approved_says_what_may_happen_instead(
    client, reviewer, in_production
):
    html = get(client, reviewer, PROMOTE.format(2, "production"))
    assert (
        "v2 is validated, so it cannot be promoted to production; allowed next: approve, " in html
    )
    assert "Promote v2 to production</button>" not in html
    response = client.post(PROMOTE.format(2, "production"), {"comment": ""})
    assert response.status_code == 409


def test_rollback_page_without_a_valid_stage_is_a_400(client, reviewer, in_production):
    get(client, reviewer, "/models/credit-risk/rollback/", status=400)
    response = client.post("/models/credit-risk/rollback/", {"stage": "live"})
    assert response.status_code == 400
    assert "Choose the stage: staging or production." in response.content.decode()


def test_overlong_comments_are_refused_beside_the_box(client, reviewer, reviewer2, in_production):
    client.force_login(reviewer)
    response = client.post("/models/credit-risk/versions/1/archive/", {"comment": "x" * 5001})
    assert response.status_code == 400
    assert "Keep the comment to 5000 characters or fewer" in response.content.decode()
    assert ModelVersion.objects.get(version=1).status == VersionStatus.APPROVED
    client.force_login(reviewer2)
    response = client.post(REVIEW.format(2), {"decision": "approve", "comment": "y" * 5001})
    assert response.status_code == 400
    assert ModelVersion.objects.get(version=2).status == VersionStatus.VALIDATED


def test_inbox_shows_approvals_so_far_and_hides_what_i_already_approved(
    client, reviewer, reviewer2, in_production
):
    from releases import services

    model = in_production[1].registered_model
    model.required_approvals = 2
    model.save()
    services.model_version_review(
        actor=reviewer, model_version=in_production[1], decision="approve"
    )
    assert "<td>1 of 2</td>" in get(client, reviewer2, "/")
    assert "Review v2" not in get(client, reviewer, "/")


def test_review_page_shows_shap_importance_beside_production(client, reviewer2, in_production):
    from explain.models import ShapReport, ShapReportStatus

    v1, v2 = in_production
    html = get(client, reviewer2, REVIEW.format(2))
    assert "The SHAP report of v2 is not ready yet" in html

    for version, importance in [
        (v1, {"income": 0.30, "age": 0.10}),
        (v2, {"income": 0.25, "tenure": 0.20, "<script>alert(1)</script>": 0.01}),
    ]:
        ShapReport.objects.create(
            model_version=version,
            status=ShapReportStatus.DONE,
            summary={"importance": {"combined": importance}},
        )
    html = get(client, reviewer2, REVIEW.format(2))
    assert "What the model relies on (mean |SHAP|) beside production v1" in html
    rows = html[
        html.index('aria-labelledby="shap-h"') : html.index('aria-labelledby="paramdiff-h"')
    ]
    assert rows.index("income") < rows.index("tenure")  # the candidate's order, largest first
    assert "<td>0.2500</td><td>0.3000</td><td>-0.0500</td>" in rows
    assert (
        '<td class="mono">tenure</td><td>0.2000</td><td><span class="muted">—</span></td>' in rows
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rows and "<script>alert" not in rows


def test_review_page_offers_no_promotion_to_the_stage_the_version_holds(
    client, reviewer, in_production
):
    html = get(client, reviewer, REVIEW.format(1)).split("<main")[1]
    assert "?stage=production" not in html  # v1 serves production already
    assert "Promote to staging…" in html
