"""What a reviewer sees in Chromium: shadow mode turned on from the model page, then how often
staging agreed with production and the rows where it did not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from playwright.sync_api import expect

from releases.models import ApiToken, Stage
from scoring.prediction_log import prediction_log
from scoring.shadow import shadow
from tests.releases import model_files as mf
from tests.scoring.serving import forest_model, serve
from tests.scoring.test_predict import bodies, sample

pytestmark = pytest.mark.browser


def test_a_reviewer_turns_shadow_on_and_reads_the_disagreements(
    login: Any, page: Any, live_server: Any, reviewer: Any, owner: Any, password: str,
    risk_model: Any, tmp_path: Path,
) -> None:  # fmt: skip
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    serve(risk_model, 2, model=forest_model(), uploaded_by=owner, stage=Stage.STAGING)
    login(reviewer, password)
    page.goto("/models/credit-risk/")
    card = page.locator("#shadow")
    expect(card.get_by_text("shadow mode off")).to_be_visible()
    expect(card.get_by_text("No rows compared yet")).to_be_visible()

    card.get_by_role("button", name="Shadow production with staging v2").click()
    expect(page.locator("#shadow").get_by_text("shadow mode on")).to_be_visible()
    expect(page.get_by_text("Staging now shadows production")).to_be_visible()

    frame = sample(40)
    key = ApiToken.objects.create(user=owner)[1]
    response = requests.post(
        f"{live_server.url}/api/v1/models/credit-risk/predict/",
        data=orjson.dumps(bodies(frame)["instances"]),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200
    prediction_log.flush()
    shadow.drain()
    agree = mf.pipeline_model().predict(frame) == forest_model().predict(frame)

    page.reload()
    table = page.locator("#shadow-agreement")
    expect(table).to_contain_text(f"{agree.mean() * 100:.1f}%")
    expect(table).to_contain_text(f"({int(agree.sum())} / 40)")
    rows = page.locator("#shadow-disagreements tbody tr")
    expect(rows).to_have_count(min(20, int((~agree).sum())))
    page.screenshot(path=tmp_path / "shadow.png", full_page=True)
    assert int(page.evaluate("() => document.documentElement.scrollWidth")) <= 1280

    page.get_by_role("button", name="Stop shadowing").click()
    expect(page.locator("#shadow").get_by_text("shadow mode off")).to_be_visible()
