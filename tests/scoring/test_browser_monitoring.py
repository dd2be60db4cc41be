"""The monitoring dashboard in Chromium: health badge, plotly time series, the drift table worst
first and sortable, and a histogram for whichever feature is chosen."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scoring import services
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version

pytestmark = pytest.mark.browser


def test_dashboard_draws_series_sorts_features_and_charts_a_chosen_feature(
    login, owner, password, page, risk_model, tmp_path
):
    version, _ = served_version(risk_model, owner)
    rng = np.random.default_rng(12)
    for hours_ago in (3, 2):
        log_hour(version, past_hour(hours_ago), frame(rng, 300), span=timedelta(minutes=50))
    log_hour(version, past_hour(1), frame(rng, 300, shift_b=2.0), span=timedelta(minutes=50))
    services.monitor_run(now=timezone.now())
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(owner, password)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Monitoring").click()
    expect(page).to_have_title("Are my served models healthy? · ModelGate")
    page.get_by_role("link", name=f"credit-risk v{version.version}").click()
    expect(page).to_have_title(f"credit-risk v{version.version}: is it still healthy? · ModelGate")
    expect(page.locator("#health")).to_have_text("healthy")
    for chart in ("rows", "latency", "low-confidence", "drift", "accuracy"):
        expect(page.locator(f"#chart-{chart} .plot-container")).to_be_visible()
    expect(page.locator("#chart-rows .bars .point")).to_have_count(3)

    features = page.locator("#drift-table tbody tr td:first-child button")
    expect(features.first).to_have_text("b")  # the shifted one, worst first
    expect(page.locator("#drift-table tbody tr").first.locator("td").nth(1)).to_have_text("drifted")
    page.get_by_role("columnheader", name="Feature").click()
    expect(features).to_have_text(["a", "b", "c", "city"])

    expect(page.locator("#hist-feature")).to_have_text("b")
    expect(page.locator("#chart-histogram .bars .point")).to_have_count(44)  # 22 bins, twice
    page.get_by_label("Feature", exact=True).select_option("city")
    expect(page.locator("#hist-feature")).to_have_text("city")
    expect(page.locator("#chart-histogram .xtick text")).to_have_text(
        ["braga", "faro", "lisbon", "porto"]
    )
    page.locator("#drift-table").get_by_role("button", name="c", exact=True).click()
    expect(page.locator("#hist-feature")).to_have_text("c")
    page.screenshot(path=tmp_path / "monitoring-dashboard.png", full_page=True)
    assert dialogs == []
