"""The validation report page in Chromium: plotly draws each chart from the report data, names
that look like markup stay text, the slices table sorts, and a running validation turns into its
report without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from releases.models import ModelVersion, VersionStatus
from tests.factories import ModelVersionFactory
from tests.releases.report_fixtures import SCRIPT, report

pytestmark = pytest.mark.browser

URL = "/models/credit-risk/versions/2/report/"


def open_report(page: Any, login: Any, user: Any, password: str, dialogs: list[str]) -> None:
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(user, password)
    page.goto(URL)


def test_binary_report_draws_its_charts_and_shows_a_script_named_feature_as_text(
    login, owner, password, page, risk_model, tmp_path
):
    ModelVersionFactory(
        registered_model=risk_model, version=2, status=VersionStatus.VALIDATED,
        validation_report=report("BINARY"), uploaded_by=owner,
    )  # fmt: skip
    dialogs: list[str] = []
    open_report(page, login, owner, password, dialogs)
    expect(page).to_have_title("credit-risk v2: validation report · ModelGate")
    for chart in ("confusion", "roc", "pr", "calibration"):
        panel = page.locator(f"#chart-{chart}")
        expect(panel.locator(".plot-container")).to_be_visible()
        expect(panel.locator("svg.main-svg").first).to_be_visible()
    # The ROC legend and the heatmap's axis show the class label as the characters it has.
    expect(page.locator("#chart-roc .legendtext").first).to_have_text(f"{SCRIPT} (AUC 0.970)")
    expect(page.locator("#chart-confusion .xtick text").nth(1)).to_have_text(SCRIPT)
    expect(page.locator("#slices-table tbody tr").first.locator("td").first).to_have_text(SCRIPT)
    expect(page.locator("#disagreements thead th").nth(1)).to_have_text(SCRIPT)
    expect(page.get_by_text("AUC 0.97: a random positive case")).to_be_visible()
    page.screenshot(path=tmp_path / "report-binary.png", full_page=True)
    assert dialogs == []  # nothing ran
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 1


def test_slices_sort_by_a_clicked_column(login, owner, password, page, risk_model):
    ModelVersionFactory(
        registered_model=risk_model, version=2, status=VersionStatus.VALIDATED,
        validation_report=report("BINARY"), uploaded_by=owner,
    )  # fmt: skip
    open_report(page, login, owner, password, [])
    slices = page.locator("#slices-table tbody tr td:nth-child(2)")
    expect(slices).to_have_text(["south flagged", "[10, 40)", "north"])  # worst first
    page.get_by_role("columnheader", name="Rows").click()
    expect(slices).to_have_text(["north", "south flagged", "[10, 40)"])  # most rows first
    page.get_by_role("columnheader", name="Rows").click()
    expect(slices).to_have_text(["[10, 40)", "south flagged", "north"])


def test_regression_report_draws_predicted_vs_actual_and_residuals(
    login, owner, password, page, risk_model
):
    ModelVersionFactory(
        registered_model=risk_model, version=2, status=VersionStatus.VALIDATED,
        validation_report=report("REGRESSION"), uploaded_by=owner,
    )  # fmt: skip
    open_report(page, login, owner, password, [])
    for chart in ("predicted", "residual"):
        expect(page.locator(f"#chart-{chart} .plot-container")).to_be_visible()
        expect(page.locator(f"#chart-{chart} .scatterlayer .point")).to_have_count(50)


def test_a_running_validation_becomes_its_report_without_a_reload(
    login, owner, password, page, risk_model
):
    version = ModelVersionFactory(
        registered_model=risk_model, version=2, status=VersionStatus.VALIDATING,
        validation_report={"stage": "evaluating"}, uploaded_by=owner,
    )  # fmt: skip
    open_report(page, login, owner, password, [])
    expect(page.locator("#stage-line .stage-active")).to_have_text("evaluating")
    page.evaluate("() => { window.notReloaded = true; }")
    ModelVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.VALIDATED, validation_report=report("MULTICLASS")
    )
    expect(page.locator("#chart-confusion .plot-container")).to_be_visible(timeout=20_000)
    expect(page.locator("#chart-roc .plot-container")).to_be_visible()
    assert page.evaluate("() => window.notReloaded") is True
