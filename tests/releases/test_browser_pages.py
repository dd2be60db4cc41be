"""What a person sees in Chromium: long text stays on screen, unknown URLs get the app's own page,
trusting types asks first and names each one, and the uploader watches it happen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from releases.models import ModelVersion
from tests.factories import PASSWORD, ModelVersionFactory

pytestmark = pytest.mark.browser

VIEWPORT_WIDTH = 1280


def page_width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_long_unbroken_text_wraps_within_the_viewport_on_every_page(
    login, owner, password, page, risk_model, tmp_path
):
    # The longest texts the limits let through, without a single space to break at.
    risk_model.description = "D" * 500
    risk_model.model_card = "C" * 5_000
    risk_model.save()
    ModelVersionFactory(
        registered_model=risk_model, version=1, uploaded_by=owner, notes="N" * 10_000,
        status="validation_failed", validation_error="E" * 3_000,
        validation_report={"stage": "failed", "error_code": "unusable"},
        untrusted_types=["mylib." + "T" * 200],
        tags=[f"{i:02d}" + "g" * 48 for i in range(20)],
    )  # fmt: skip
    login(owner, password)

    for name, url in [
        ("home", "/"),
        ("models", "/models/"),
        ("model", "/models/credit-risk/"),
        ("version", "/models/credit-risk/versions/1/"),
    ]:
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.screenshot(path=tmp_path / f"long-{name}.png", full_page=True)
        assert page_width(page) <= VIEWPORT_WIDTH, f"{name} page is {page_width(page)} px wide"

    expect(page.locator(".notes")).to_be_visible()
    box = page.locator(".notes").bounding_box()
    assert box is not None and box["x"] + box["width"] <= VIEWPORT_WIDTH


def test_unknown_url_shows_the_styled_404_with_the_navigation_and_the_favicon(
    login, owner, password, page, tmp_path
):
    login(owner, password)
    response = page.goto("/no/such/page/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Models")).to_be_visible()
    expect(page.get_by_role("link", name="Back to your home page")).to_be_visible()
    topbar = page.evaluate("() => getComputedStyle(document.querySelector('.topbar')).display")
    assert topbar == "flex"  # the stylesheet applied
    page.screenshot(path=tmp_path / "404.png", full_page=True)

    icon = page.goto("/favicon.ico")
    assert icon is not None and icon.ok
    assert icon.headers["content-type"].startswith("image/svg+xml")


def test_api_docs_have_a_way_back_to_the_app(login, owner, password, page):
    login(owner, password)
    page.goto("/api/docs/")
    back = page.get_by_role("link", name="← Back to ModelGate")
    expect(back).to_be_visible()
    back.click()
    expect(page).to_have_title("What needs you · ModelGate")


@pytest.fixture
def waiting_version(risk_model: Any, owner: Any) -> ModelVersion:
    return ModelVersionFactory(
        registered_model=risk_model, version=1, uploaded_by=owner,
        untrusted_types=[
            "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
        ],
    )  # fmt: skip


def test_trust_boxes_start_unticked_and_the_confirmation_names_each_ticked_type(
    login, reviewer, password, page, waiting_version, tmp_path
):
    login(reviewer, password)
    page.goto("/")
    expect(
        page.get_by_role("heading", name="Types to trust before validation can start (1)")
    ).to_be_visible()
    page.get_by_role("link", name="v1").first.click()

    model_box = page.get_by_role("checkbox", name="sklearn.neighbors._kd_tree.KDTree")
    scaler_box = page.get_by_role("checkbox", name="sklearn.neighbors._ball_tree.BallTree")
    expect(model_box).not_to_be_checked()
    expect(scaler_box).not_to_be_checked()
    expect(page.get_by_text("is a scikit-learn class").first).to_be_visible()

    model_box.check()
    page.get_by_role("button", name="Trust the ticked types for v1 only…").click()
    dialog = page.get_by_role("dialog", name="Trust these types for v1 only?")
    expect(dialog).to_be_visible()
    expect(dialog.locator("li")).to_have_count(1)
    expect(dialog.locator("li code")).to_have_text("sklearn.neighbors._kd_tree.KDTree")
    page.screenshot(path=tmp_path / "trust-confirm.png", full_page=True)

    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    waiting_version.refresh_from_db()
    assert waiting_version.trusted_types == []

    page.get_by_role("button", name="Trust the ticked types for v1 only…").click()
    dialog.get_by_role("button", name="Trust 1 type for v1 only").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Trusted for v1 only: sklearn.neighbors._kd_tree.KDTree."
    )
    waiting_version.refresh_from_db()
    assert waiting_version.trusted_types == ["sklearn.neighbors._kd_tree.KDTree"]
    expect(
        page.get_by_role("checkbox", name="sklearn.neighbors._ball_tree.BallTree")
    ).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="sklearn.neighbors._kd_tree.KDTree")).to_have_count(0)


def test_uploaders_page_follows_a_reviewer_trusting_the_types_without_a_reload(
    browser, live_server, login, owner, reviewer, password, page, waiting_version, tmp_path
):
    login(owner, password)
    page.goto("/models/credit-risk/versions/1/")
    stage_text = page.locator("#stage-text")
    expect(stage_text).to_contain_text("Waiting for a reviewer to trust 2 types")
    page.evaluate("() => { window.mgSamePage = true; }")

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        other = context.new_page()
        other.goto("/accounts/login/")
        other.get_by_label("Username").fill(reviewer.get_username())
        other.get_by_label("Password").fill(PASSWORD)
        other.get_by_role("button", name="Sign in").click()
        other.goto("/models/credit-risk/versions/1/")
        other.get_by_role("checkbox", name="sklearn.neighbors._kd_tree.KDTree").check()
        other.get_by_role("checkbox", name="sklearn.neighbors._ball_tree.BallTree").check()
        other.get_by_role("button", name="Trust the ticked types for v1 only…").click()
        other.get_by_role("button", name="Trust 2 types for v1 only").click()
        expect(other.get_by_role("status")).to_contain_text("Trusted for v1 only")
    finally:
        context.close()

    # Waiting for trust can last days: that page asks every 5 s, not every 2.
    expect(stage_text).to_contain_text("Queued: a worker will pick it up shortly.", timeout=12_000)
    expect(page.locator("#untrusted .badge.status-validated")).to_have_count(2)
    assert page.evaluate("() => window.mgSamePage") is True
    page.screenshot(path=tmp_path / "uploader-after-trust.png", full_page=True)


def test_too_many_tags_are_refused_beside_the_tags_field_and_nothing_is_lost(
    login, owner, password, page, risk_model, media_root
):
    login(owner, password)
    page.goto("/models/credit-risk/upload/")
    page.get_by_label("Model file").set_input_files(
        {"name": "model.skops", "mimeType": "application/zip", "buffer": b"PK\x05\x06" + b"\0" * 18}
    )
    tags = ", ".join(f"t{i}" for i in range(21))
    page.get_by_label("Tags").fill(tags)
    page.get_by_label("Notes").fill("Retrained.")
    page.get_by_role("button", name="Upload").click()

    tags_row = page.locator(".form-row", has=page.locator("#id_tags"))
    expect(tags_row.get_by_role("alert")).to_contain_text("at most 20 tags; this one has 21")
    expect(page.get_by_label("Tags")).to_have_value(tags)
    expect(page.get_by_label("Notes")).to_have_value("Retrained.")
    assert not ModelVersion.objects.filter(registered_model=risk_model).exists()
