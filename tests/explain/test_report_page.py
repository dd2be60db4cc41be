"""The SHAP report page: charts drawn by plotly from data, names shown as text, who may see it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from explain import selectors
from tests.explain.builders import SCRIPT, done_report, in_stage, script_named_version

URL = "/models/credit-risk/versions/2/shap/"


@pytest.fixture
def reports(media_root: Path, risk_model: Any) -> Any:
    production = in_stage(script_named_version(risk_model, 1, seed=1))
    done_report(production)
    candidate = script_named_version(risk_model, 2, seed=2)
    done_report(candidate)
    return production, candidate


@pytest.mark.django_db
def test_global_importance_and_comparison_with_production(reports: Any) -> None:
    production, candidate = reports
    importance = selectors.global_importance(candidate)
    assert importance is not None and next(iter(importance)) == SCRIPT
    comparison = selectors.importance_comparison(candidate)
    assert comparison is not None
    assert comparison["production_version"] == 1
    assert set(comparison["production"]) == {SCRIPT, "tenure", "plan"}
    assert (
        selectors.global_importance(production)
        == selectors.importance_comparison(production)["candidate"]
    )


@pytest.mark.django_db
def test_page_escapes_a_markup_feature_name_and_links_from_the_version(
    client: Any, owner: Any, reports: Any
) -> None:
    client.force_login(owner)
    html = client.get(URL).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the table cell
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in html  # json_script's escape
    assert "vendor/plotly.min.js" in html and "cdn" not in html.lower()
    version_page = client.get("/models/credit-risk/versions/2/").content.decode()
    assert 'href="/models/credit-risk/versions/2/shap/"' in version_page


@pytest.mark.django_db
def test_another_teams_member_gets_404(client: Any, outsider: Any, reports: Any) -> None:
    client.force_login(outsider)
    assert client.get(URL).status_code == 404


@pytest.mark.django_db
def test_a_failed_report_says_why(client: Any, owner: Any, media_root: Path, risk_model: Any):
    from explain.tasks import shap_report_run
    from tests.explain.builders import credit_frame, forest_pipeline, stored_version

    frame, target = credit_frame()
    stored_version(risk_model, 2, forest_pipeline(frame, target), frame, target, with_dataset=False)
    shap_report_run(version_id=risk_model.versions.get(version=2).pk)
    client.force_login(owner)
    html = client.get(URL).content.decode()
    assert "The SHAP report failed: This model has no evaluation data" in html


@pytest.mark.browser
def test_report_page_draws_plotly_charts_and_shows_markup_names_as_text(
    login: Any, owner: Any, password: str, page: Any, reports: Any, tmp_path: Path
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(owner, password)
    page.goto(URL)
    expect(page).to_have_title("credit-risk v2: SHAP report · ModelGate")
    for chart in ("importance", "beeswarm", "dependence-0", "dependence-1", "dependence-2"):
        expect(page.locator(f"#chart-{chart} svg.main-svg").first).to_be_visible()
    # Two bar traces: this version and production's.
    expect(page.locator("#chart-importance .trace.bars")).to_have_count(2)
    expect(page.locator("#chart-importance .ytick text").last).to_have_text(SCRIPT)
    expect(page.locator("#importance-table tbody tr").first.locator("td").first).to_have_text(
        SCRIPT
    )
    assert page.locator("#chart-beeswarm .point").count() > 100
    page.screenshot(path=tmp_path / "shap-report.png", full_page=True)
    assert dialogs == []
