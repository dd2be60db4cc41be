"""The whole review-and-promote flow in Chromium, as a reviewer: inbox, review screen,
approve, promote with the confirmation about live traffic, then roll back."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from releases import selectors, services
from releases.models import ModelVersion, RegisteredModel
from tests.releases.releasing import *  # noqa: F403 -- fixtures
from tests.releases.releasing import approved, stored_version
from tests.releases.test_review_pages import COMPARED, PARAMS_V1, PARAMS_V2

pytestmark = pytest.mark.browser

VIEWPORT_WIDTH = 1280


def page_width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_reviewer_reviews_approves_promotes_and_rolls_back(
    login, page, password, media_root, risk_model, owner, reviewer, reviewer2, tmp_path
):
    v1 = stored_version(risk_model, 1, uploaded_by=owner, parameters=PARAMS_V1)
    approved(v1, reviewer)
    services.model_version_promote(actor=reviewer, model_version=v1, stage="production")
    report = copy.deepcopy(COMPARED)
    report["gates"][1].update(measured=42.0, passed=True)
    report["gates_passed"] = True
    stored_version(risk_model, 2, uploaded_by=owner, parameters=PARAMS_V2, validation_report=report)

    login(reviewer2, password)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile(r"Reviews\s+1"))).to_be_visible()
    page.screenshot(path=tmp_path / "1-inbox.png", full_page=True)

    page.get_by_role("link", name="Review v2").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("credit-risk v2: ready for review")
    expect(page.locator("#review-metrics")).to_contain_text("+0.0200 ▲ better")
    expect(page.locator("#agreement")).to_contain_text("97.5%")
    expect(page.locator("#gates")).to_contain_text("p99 latency ≤ 50 ms")
    expect(page.locator("#parameter-diff")).to_contain_text("penalty")
    expect(page.locator("#signature-diff")).to_contain_text("tenure")
    assert page_width(page) <= VIEWPORT_WIDTH
    page.screenshot(path=tmp_path / "2-review.png", full_page=True)

    page.get_by_label("Comment").fill("Better accuracy, same latency budget.")
    page.get_by_role("button", name="Approve v2").click()
    expect(page.get_by_role("status")).to_contain_text("You approved v2.")
    expect(page.locator("#approvals")).to_have_text("1 of 1 approval")
    page.screenshot(path=tmp_path / "3-approved.png", full_page=True)

    page.get_by_role("link", name="Promote to production…").click()
    expect(page.locator("#traffic")).to_have_text("Production will serve v2 instead of v1.")
    page.screenshot(path=tmp_path / "4-confirm.png", full_page=True)
    page.get_by_label("Comment").fill("Q4 release")
    page.get_by_role("button", name="Promote v2 to production").click()
    expect(page.get_by_role("status")).to_contain_text("Production now serves v2.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("production v2")
    history = page.locator("#stage-history")
    expect(history.locator("tbody tr").first).to_contain_text("Promote: v1 → v2")
    expect(history).to_contain_text("Q4 release")
    page.screenshot(path=tmp_path / "5-promoted.png", full_page=True)
    model = RegisteredModel.objects.get(name="credit-risk")
    assert selectors.production_version(registered_model=model).version == 2

    page.get_by_role("link", name="Roll back production to v1…").click()
    expect(page.locator("#traffic")).to_have_text("Production will serve v1 instead of v2.")
    page.get_by_label("Comment").fill("error rate up")
    page.get_by_role("button", name="Roll back production to v1").click()
    expect(page.get_by_role("status")).to_contain_text("Rolled back: production serves v1 again.")
    expect(history.locator("tbody tr").first).to_contain_text("Rollback: v2 → v1")
    page.screenshot(path=tmp_path / "6-rolled-back.png", full_page=True)
    assert selectors.production_version(registered_model=model).version == 1
    assert ModelVersion.objects.get(version=2).status == "approved"

    page.get_by_role("link", name="v1", exact=True).first.click()
    heading = page.get_by_role("heading", level=1)
    expect(heading.locator(".stage-production")).to_have_text("production")
    expect(page.get_by_role("link", name="Archive…")).to_be_visible()
    page.screenshot(path=tmp_path / "7-version-page.png", full_page=True)


def test_uploader_sees_no_decision_buttons_in_the_browser(
    login, page, password, media_root, risk_model, owner, tmp_path
):
    from releases.models import Role
    from tests.factories import MembershipFactory, TeamFactory

    MembershipFactory(user=owner, team=TeamFactory(name="risk"), role=Role.REVIEWER)
    stored_version(risk_model, 1, uploaded_by=owner)
    login(owner, password)
    page.goto("/models/credit-risk/versions/1/review/")
    expect(page.get_by_text("You uploaded v1; another reviewer must review it.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve v1")).to_have_count(0)
    page.screenshot(path=tmp_path / "own-upload.png", full_page=True)


def test_reviewer_trusts_types_on_the_review_page_and_stays_there(
    login, page, password, media_root, risk_model, owner, reviewer, tmp_path
):
    stored_version(
        risk_model, 1, uploaded_by=owner, status="pending",
        untrusted_types=[
            "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
        ],
    )  # fmt: skip
    login(reviewer, password)
    page.get_by_role("link", name="v1").first.click()
    expect(page).to_have_url(re.compile(r"/versions/1/review/$"))
    expect(
        page.get_by_role("checkbox", name="sklearn.neighbors._kd_tree.KDTree")
    ).not_to_be_checked()
    page.get_by_role("checkbox", name="sklearn.neighbors._kd_tree.KDTree").check()
    page.get_by_role("button", name="Trust the ticked types for v1 only…").click()
    dialog = page.get_by_role("dialog", name="Trust these types for v1 only?")
    expect(dialog.locator("li code")).to_have_text("sklearn.neighbors._kd_tree.KDTree")
    page.screenshot(path=tmp_path / "review-trust-confirm.png", full_page=True)
    dialog.get_by_role("button", name="Trust 1 type for v1 only").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Trusted for v1 only: sklearn.neighbors._kd_tree.KDTree."
    )
    expect(page).to_have_url(re.compile(r"/versions/1/review/$"))
    expect(page.get_by_text("Validation must finish before anyone can decide.")).to_be_visible()
    assert ModelVersion.objects.get(version=1).trusted_types == [
        "sklearn.neighbors._kd_tree.KDTree"
    ]
