"""In Chromium: the model page says how the served version does on labels, worse in red, and
its button turns the corrected dataset into the evaluation set."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from releases.models import Stage
from scoring.services import ground_truth_write
from tests.factories import PredictionFactory
from tests.scoring.serving import logistic_numeric, serve

pytestmark = pytest.mark.browser


def test_the_model_page_shows_live_accuracy_and_adopts_the_corrected_dataset(
    transactional_db: Any, page: Any, login: Any, owner: Any, password: str, risk_model: Any
) -> None:
    version = serve(risk_model, 1, model=logistic_numeric(), uploaded_by=owner,
                    stage=Stage.PRODUCTION, numeric_only=True)  # fmt: skip
    version.validation_report = {"evaluation": {"metrics": {"accuracy": 0.95}}}
    version.save()
    for i in range(20):
        prediction = PredictionFactory(
            model_version=version, inputs={"age": 30.0 + i, "income": 50.0}, prediction="stay"
        )
        ground_truth_write(
            prediction=prediction, signature=version.signature,
            label="stay" if i % 4 else "churn", source="feedback", sampled=True,
            labeled_by="app:1",
        )  # fmt: skip
    login(owner, password)

    page.goto("/models/credit-risk/")

    panel = page.locator("#live-accuracy")
    expect(panel).to_contain_text("live accuracy 0.75 [0.53, 0.89] from 20 labels")
    worse = panel.locator('[data-verdict="worse"]')
    expect(worse).to_have_text("-0.20 ▼ worse")
    bad = page.evaluate(
        """() => { const probe = document.createElement("span");
                   probe.style.color = "var(--bad)"; document.body.append(probe);
                   return getComputedStyle(probe).color; }"""
    )
    assert worse.evaluate("e => getComputedStyle(e).color") == bad  # the site's "bad" red
    panel.get_by_role("button", name="Use as the evaluation set").click()

    expect(page.get_by_role("status")).to_contain_text("is now the evaluation set")
    expect(page.locator("section", has=page.locator("#dataset-h"))).to_contain_text(
        "credit-risk-corrected.csv"
    )
