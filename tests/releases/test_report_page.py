"""The validation report page, rendered from hand-written reports in the stored shape: tables,
comparison, gates, readings, failures, progress, re-run and who may see it. The charts are drawn
in the browser (test_browser_report.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import reverse

from releases.models import ModelVersion, VersionStatus
from tests.factories import ModelVersionFactory
from tests.releases.report_fixtures import SCRIPT, report


def make_version(model: Any, number: int = 2, *, fixture: str = "BINARY", **fields: Any):
    fields.setdefault("status", VersionStatus.VALIDATED)
    fields.setdefault("validation_report", report(fixture) if fixture else {})
    return ModelVersionFactory(registered_model=model, version=number, **fields)


def report_url(model: Any, number: int = 2, suffix: str = "") -> str:
    return reverse("version-report", args=[model.name, number]) + suffix


def html_of(client: Any, user: Any, url: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def section(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}".*?</(section|table|figure)>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(0)


def test_report_page_shows_metrics_against_production_with_worse_deltas_in_red(
    client, owner, risk_model
):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    assert "<title>credit-risk v2: validation report · ModelGate</title>" in html
    metrics = section(html, "metrics")
    assert "production v1" in metrics
    roc = re.search(r"roc_auc.*?</tr>", metrics, re.S).group(0)
    assert 'class="delta-worse"' in roc and "-0.0100" in roc
    log_loss = re.search(r"log_loss.*?</tr>", metrics, re.S).group(0)
    assert 'class="delta-better"' in log_loss  # lower is better for a loss
    assert "lower is better" in log_loss
    brier = re.search(r"brier.*?</tr>", metrics, re.S).group(0)
    assert "needs probabilities for exactly two classes" in brier


def test_gates_show_pass_and_fail_with_measured_value_and_threshold(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    gates = section(html_of(client, owner, report_url(risk_model)), "gates")
    assert "failing" in gates
    failing = re.search(r'<tr class="gate-fail">.*?</tr>', gates, re.S).group(0)
    assert "roc_auc no worse than production" in failing
    assert ">0.01<" in failing and ">0.005<" in failing  # measured, threshold
    assert "fell 0.01 against production v1" in failing
    assert gates.count('class="gate-pass"') == 1


def test_slices_are_worst_first_with_flagged_rows_highlighted(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    slices = section(html_of(client, owner, report_url(risk_model)), "slices-table")
    order = re.findall(r'<td class="mono">(north|south|\[10, 40\))', slices)
    assert order == ["south", "[10, 40)", "north"]
    assert slices.count('class="slice-flagged"') == 1
    flagged = re.search(r'<tr class="slice-flagged">.*?</tr>', slices, re.S).group(0)
    assert "south" in flagged


def test_a_feature_or_class_named_like_a_script_is_escaped_everywhere(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(html, "slices-table")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(html, "disagreements")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(html, "per-class")
    # The chart data travels as JSON that cannot close its script element.
    data = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S)
    assert "\\u003Cscript\\u003E" in data.group(1)
    assert json.loads(data.group(1))["confusion_matrix"]["labels"][1] == SCRIPT


def test_champion_vs_challenger_shows_agreement_sample_and_csv_link(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    comparison = section(html, "comparison")
    assert "94.3% of 300 rows get the same prediction" in comparison
    assert "/api/v1/models/credit-risk/versions/2/validation/disagreements.csv" in comparison
    header = re.findall(r'<th scope="col" class="mono">(.*?)</th>', section(html, "disagreements"))
    assert header == [
        "income",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "candidate",
        "production",
        "actual",
    ]
    assert "+0.400 ms" in comparison


def test_serving_cost_and_stage_timings_are_shown(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    cost = section(html, "cost")
    assert "120.6\xa0KB" in cost and "88.5 MB" in cost
    latency = section(html, "latency")
    assert re.search(r"1 row</th><td class=\"num\">1.100</td><td class=\"num\">2.500", latency)
    assert "evaluating" in section(html, "timings")


def test_each_chart_has_a_one_line_reading(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    assert "AUC 0.97: a random positive case scores above a random negative one 97%" in html
    assert "Average precision 0.95" in html
    assert "Off by up to 0.15: where the model says 0.70, 0.55 of cases were positive" in html
    assert "91% of 300 rows on the diagonal" in html
    for chart in ("confusion", "roc", "pr", "calibration"):
        assert f'id="chart-{chart}"' in html


def test_multiclass_readings_name_the_hardest_class_and_the_common_mistake(
    client, owner, risk_model
):
    make_version(risk_model, fixture="MULTICLASS", uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    assert "the hardest class to tell apart is versicolor (AUC 0.82)" in html
    assert "the most common mistake is virginica predicted as versicolor (18 rows)" in html
    assert 'id="chart-pr"' not in html  # no data, no empty panel


def test_regression_report_has_predicted_vs_actual_and_residuals(client, owner, risk_model):
    make_version(risk_model, fixture="REGRESSION", uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    assert 'id="chart-predicted"' in html and 'id="chart-residual"' in html
    assert "R² 0.87: points on the diagonal" in html
    assert "90% of rows are within ±0.5 of the truth" in html
    assert "the target contains zeros" in html
    assert 'id="chart-roc"' not in html and 'id="comparison"' not in html


def test_an_old_report_with_four_numbers_still_renders(client, owner, risk_model):
    make_version(risk_model, fixture="OLD", uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    assert "accuracy" in section(html, "metrics")
    assert 'id="gates"' not in html and 'id="slices"' not in html and 'id="cost"' not in html


@pytest.mark.parametrize(
    ("fixture", "error", "headline"),
    [
        ("FAILED_LOADING", "The model crashed while loading it.", "The model could not be loaded"),
        (
            "FAILED_DATA",
            "The CSV lacks the model's features: age.",
            "The evaluation data does not fit the model",
        ),
    ],
)  # fmt: skip
def test_a_failure_says_what_failed_and_why(client, owner, risk_model, fixture, error, headline):
    make_version(
        risk_model,
        fixture=fixture,
        status=VersionStatus.VALIDATION_FAILED,
        validation_error=error,
        uploaded_by=owner,
    )
    failure = section(html_of(client, owner, report_url(risk_model)), "failure")
    assert headline in failure
    assert error.replace("'", "&#x27;") in failure


def test_a_running_validation_shows_its_stage_and_refreshes_through_the_live_part(
    client, owner, risk_model
):
    mv = make_version(
        risk_model,
        fixture="",
        status=VersionStatus.VALIDATING,
        validation_report={"stage": "evaluating"},
        uploaded_by=owner,
    )
    html = html_of(client, owner, report_url(risk_model))
    live_url = report_url(risk_model, suffix="live/")
    assert f'data-live-url="{live_url}"' in html and 'data-poll="true"' in html
    assert 'class="stage-active" data-stage="evaluating"' in html
    assert "Re-run validation" not in html  # nothing to re-run while it runs
    fingerprint = re.search(r'data-fingerprint="(\w+)"', html).group(1)
    assert client.get(live_url, {"since": fingerprint}).status_code == 204

    ModelVersion.objects.filter(pk=mv.pk).update(
        status=VersionStatus.VALIDATED, validation_report=report("BINARY")
    )
    response = client.get(live_url, {"since": fingerprint})
    assert response.status_code == 200
    fresh = response.content.decode()
    assert 'data-poll="false"' in fresh and 'id="report-data"' in fresh
    assert response["Cache-Control"] == "no-store"


def test_version_page_links_to_its_report(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, reverse("version-detail", args=[risk_model.name, 2]))
    assert f'href="{report_url(risk_model)}" id="report-link"' in html


def test_plotly_is_served_from_our_own_static_files(client, owner, risk_model):
    make_version(risk_model, uploaded_by=owner)
    html = html_of(client, owner, report_url(risk_model))
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert "/static/vendor/plotly.min.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)  # no CDN
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert b"plotly.js" in b"".join(response.streaming_content)[:2000]


# --- Who may see it and re-run it -------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "live/"])
def test_outsider_gets_404_for_the_report_page(client, outsider, owner, risk_model, suffix):
    make_version(risk_model, uploaded_by=owner)
    html_of(client, outsider, report_url(risk_model, suffix=suffix), status=404)


def test_outsider_cannot_rerun(client, outsider, owner, risk_model):
    mv = make_version(risk_model, uploaded_by=owner)
    client.force_login(outsider)
    assert client.post(report_url(risk_model, suffix="rerun/")).status_code == 404
    mv.refresh_from_db()
    assert mv.status == VersionStatus.VALIDATED


@pytest.mark.parametrize("persona", ["owner", "reviewer"])
def test_uploader_and_reviewer_rerun_from_the_report_page(
    client, request, owner, risk_model, persona, django_capture_on_commit_callbacks
):
    mv = make_version(risk_model, uploaded_by=owner)
    user = request.getfixturevalue(persona)
    assert "Re-run validation" in html_of(client, user, report_url(risk_model))
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(report_url(risk_model, suffix="rerun/"))
    assert response.status_code == 302 and response["Location"] == report_url(risk_model)
    mv.refresh_from_db()
    assert mv.status == VersionStatus.PENDING
    assert len(queued) == 1


def test_a_labeler_sees_no_rerun_button_and_is_refused(client, owner, labeler, risk_model):
    mv = make_version(risk_model, uploaded_by=owner)
    assert "Re-run validation" not in html_of(client, labeler, report_url(risk_model))
    assert client.post(report_url(risk_model, suffix="rerun/")).status_code == 403
    mv.refresh_from_db()
    assert mv.status == VersionStatus.VALIDATED


def test_collectstatic_ships_plotly_for_production(settings, tmp_path):
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    shipped = tmp_path / "static" / "vendor" / "plotly.min.js"
    assert shipped.stat().st_size > 1_000_000
    assert not (tmp_path / "static" / "vendor" / "datasets").exists()  # only the one file
