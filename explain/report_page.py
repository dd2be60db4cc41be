"""What the SHAP report page draws: plain data built from the report row and its arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from explain import selectors
from explain.models import ShapReport, ShapReportStatus

TOP_FEATURES = 10
DEPENDENCE_PLOTS = 3
MAX_OUTPUTS = 10


def plot_data(report: ShapReport | None) -> dict[str, Any] | None:
    """JSON for static/shap_report.js: importance (with production's), per-row values of the
    top features per output, and their feature values (categories named)."""
    if report is None or report.status != ShapReportStatus.DONE:
        return None
    summary = report.summary
    comparison = selectors.importance_comparison(report.model_version) or {}
    arrays = selectors.shap_report_arrays(report)
    features: list[str] = summary.get("features", [])
    ranked = list(comparison.get("candidate") or {})
    top = ranked[:TOP_FEATURES]
    outputs: list[str] = summary.get("outputs", [])[:MAX_OUTPUTS]
    rows: dict[str, Any] = {}
    if arrays is not None:
        index = {name: i for i, name in enumerate(features)}
        values, feature_values = arrays["values"], arrays["feature_values"]
        for name in top:
            j = index[name]
            rows[name] = {
                "x": _floats(feature_values[:, j]),
                "shap": {out: _floats(values[:, j, k]) for k, out in enumerate(outputs)},
            }
    return {
        "features": comparison.get("features", ranked),
        "top": top,
        "dependence": top[:DEPENDENCE_PLOTS],
        "candidate": comparison.get("candidate") or {},
        "production": comparison.get("production"),
        "production_version": comparison.get("production_version"),
        "version": report.model_version.version,
        "outputs": outputs,
        "output_kind": summary.get("output_kind", ""),
        "categories": summary.get("categories", {}),
        "rows": rows,
    }


def importance_rows(data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The importance table under the chart (names escaped by the template)."""
    if not data:
        return []
    production = data.get("production") or {}
    out = []
    for name in data["features"]:
        mine = data["candidate"].get(name)
        theirs = production.get(name)
        out.append({"name": name, "candidate": mine, "production": theirs})
    return out


def _floats(column: np.ndarray) -> list[float | None]:
    # JSON has no NaN: a missing value is null (plotly skips it).
    return [None if not np.isfinite(v) else round(float(v), 6) for v in column]
