"""What a person sees in Chromium while a version's compiled form is checked: "checking compiled
form…", then the verdict and its evidence, swapped in without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from releases.services import compiled_check_finish, compiled_check_start
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.browser


def test_the_version_page_shows_the_check_running_then_its_verdict_without_a_reload(
    login: Any, owner: Any, password: Any, page: Any, risk_model: Any
) -> None:
    version = ModelVersionFactory(
        registered_model=risk_model, version=1, uploaded_by=owner, status="validated",
        compiled_check="queued", validation_report={"stage": "done"},
    )  # fmt: skip
    login(owner, password)
    page.goto("/models/credit-risk/versions/1/")
    runtime = page.locator("#serving-runtime")
    expect(runtime).to_contain_text("Checking compiled form…")
    expect(
        page.get_by_role("heading", name="Serving runtime: scikit-learn (checking compiled form…)")
    ).to_be_visible()
    page.evaluate("() => { window.notReloaded = true; }")

    compiled_check_start(version_id=version.pk, task_id="t")
    compiled_check_finish(
        version_id=version.pk,
        evidence={
            "runtime": "sklearn", "rows_checked": 400, "label_agreement": 0.995,
            "max_proba_diff": 0.03, "differing_rows": [7, 9], "seconds": 1.5,
            "reason": "The ONNX form does not reproduce scikit-learn on the evaluation set.",
        },
        onnx=None,
        seconds=1.6,
    )  # fmt: skip

    expect(
        page.get_by_role("heading", name="Serving runtime: scikit-learn", exact=True)
    ).to_be_visible(timeout=10_000)
    expect(runtime).not_to_contain_text("Checking compiled form…")
    expect(runtime).to_contain_text("does not reproduce scikit-learn")
    expect(runtime.locator("#equivalence")).to_contain_text("Rows checked400")
    expect(runtime.locator("#equivalence")).to_contain_text("7, 9")
    assert page.evaluate("() => window.notReloaded") is True
