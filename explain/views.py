"""HTML pages of explain: the SHAP report of a version."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from explain import report_page, selectors
from releases.selectors import model_version_get_for_user


@login_required
@require_GET
def shap_report(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = model_version_get_for_user(user=request.user, name=name, version=version)
    report = selectors.shap_report_for(model_version=mv)
    data = report_page.plot_data(report)
    additivity = (report.summary.get("additivity") or {}) if report is not None else {}
    return render(
        request,
        "explain/shap_report.html",
        {
            "model": mv.registered_model,
            "mv": mv,
            "report": report,
            "data": data,
            "importance_rows": report_page.importance_rows(data),
            "additivity": {
                "tolerance": f"{additivity.get('tolerance', 0):.1e}",
                "error": f"{additivity.get('max_abs_error', 0):.1e}",
            },
        },
    )
