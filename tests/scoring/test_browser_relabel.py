"""The whole labeling flow in Chromium, by keyboard alone: the queue on the home page, an item
with its features, probabilities and SHAP explanation, label / hide the suggestion / help /
skip / unsure, the next item without a reload, and the empty queue at the end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from releases.models import Role
from scoring.models import GroundTruth, RelabelItem, RelabelLabel
from tests.explain.builders import credit_frame, forest_pipeline, in_stage, stored_version
from tests.factories import PredictionFactory, member

pytestmark = pytest.mark.browser


def test_a_labeler_works_a_queue_with_the_keyboard_only(
    login, page, password, media_root, risk_model, tmp_path
):
    frame, target = credit_frame()
    version = in_stage(stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target))
    for i in range(3):
        prediction = PredictionFactory(
            model_version=version, registered_model=risk_model, inputs=frame.iloc[i].to_dict(),
            prediction="good", probabilities=[0.45, 0.55], confidence=0.55,
        )  # fmt: skip
        RelabelItem.objects.create(
            prediction=prediction, registered_model=risk_model, model_version=version,
            reason="uncertain", uncertainty=0.45,
        )  # fmt: skip
    labeler = member("lena", Role.LABELER, "risk")

    login(labeler, password)
    expect(page.locator("#my-queues-h")).to_have_text("Your relabel queues")
    expect(page.locator("#queues")).to_contain_text("3 waiting")
    # From the home page to the queue with the keyboard: Tab until the link has focus.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Label credit-risk":
            break
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused link shows no focus ring"
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Queue: credit-risk (3 left)")
    first = page.locator("#item-id").inner_text()
    expect(page.locator("#features")).to_contain_text("income")
    expect(page.locator("#prediction")).to_have_text("good")
    expect(page.locator("#chart-probabilities .main-svg").first).to_be_visible()
    expect(page.locator("#why-reading")).to_contain_text("Biggest push")
    expect(page.locator("#chart-shap .main-svg").first).to_be_visible()
    expect(page.locator("#class-buttons")).to_contain_text("1 bad")
    page.screenshot(path=tmp_path / "labeling.png", full_page=True)

    page.keyboard.press("h")  # hide the suggestion before answering
    expect(page.locator("#prediction")).to_be_hidden()
    expect(page.locator("#hidden-note")).to_be_visible()
    page.keyboard.press("1")
    expect(page.locator("#sitting")).to_contain_text("1 labeled, 0 skipped, 0 unsure")
    expect(page.locator("#item-id")).not_to_have_text(first)
    expect(page.get_by_role("heading", level=1)).to_have_text("Queue: credit-risk (2 left)")
    expect(page.locator("#prediction")).to_be_hidden()  # stays hidden for the next item
    page.keyboard.press("h")
    expect(page.locator("#prediction")).to_be_visible()

    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    second = page.locator("#item-id").inner_text()
    page.keyboard.press("s")
    expect(page.locator("#sitting")).to_contain_text("1 labeled, 1 skipped, 0 unsure")
    expect(page.locator("#item-id")).not_to_have_text(second)
    page.keyboard.press("u")
    expect(page.get_by_role("heading", name="Nothing left for you in this queue")).to_be_visible()
    expect(page.locator("#sitting")).to_contain_text(re.compile(r"1 labeled, 1 skipped, 1 unsure"))
    assert page.evaluate("() => document.activeElement.textContent") == "Back to your queues"

    truth = GroundTruth.objects.get()
    assert (truth.label, truth.source, truth.user_id) == ("bad", "queue", labeler.pk)
    assert sorted(RelabelLabel.objects.values_list("kind", flat=True)) == [
        "label",
        "skip",
        "unsure",
    ]
