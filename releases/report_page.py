"""What the validation report page shows, computed from a stored report (ModelVersion.
validation_report): rows for its tables and a one-line reading for each chart. No queries, no
HTTP, no Django: the report may be old (fewer keys) or from a failure, so every key is optional.
The charts themselves are drawn in the browser (static/report.js) from the same report data.
"""

from __future__ import annotations

import math
from typing import Any

from releases.metric_direction import compare, higher_is_better

Report = dict[str, Any]

# The headline for a failure: what went wrong, in the reviewer's words, by the stored code.
_FAILURE_HEADLINES = {
    "unusable": "The evaluation data does not fit the model",
    "crashed": "The model crashed",
    "memory": "The model ran out of memory",
    "cpu": "The model ran out of CPU time",
    "deadline": "The model did not finish in time",
    "unavailable": "The validation job could not complete",
    "too_many_attempts": "The validation job kept dying",
    "internal": "An internal error stopped validation",
}
_LOADING_STAGES = {"loading model", "reading signature"}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def failure_headline(report: Report) -> str:
    """ "The model could not be loaded" / "The evaluation data does not fit the model" / ..."""
    code = str(report.get("error_code") or "")
    stage = str(report.get("failed_stage") or "")
    if code in {"unavailable", "too_many_attempts", "internal"}:
        return _FAILURE_HEADLINES[code]  # the job failed, not the model
    if stage in _LOADING_STAGES:
        return "The model could not be loaded"  # the message below says why
    return _FAILURE_HEADLINES.get(code, "Validation failed")


def metric_rows(report: Report) -> list[dict[str, Any]]:
    """Each metric with production's value and the change, when production was measured too.
    The comparison's verdict wins; without one it is worked out with metric_direction."""
    evaluation = _dict(report.get("evaluation"))
    metrics = _dict(evaluation.get("metrics"))
    undefined = _dict(evaluation.get("undefined_metrics"))
    compared = _dict(_dict(report.get("comparison")).get("metrics"))
    rows = []
    for name in [*metrics, *(m for m in compared if m not in metrics)]:
        value = _number(metrics.get(name, _dict(compared.get(name)).get("candidate")))
        against = _dict(compared.get(name))
        production = _number(against.get("production"))
        delta = _number(against.get("delta"))
        if delta is None and value is not None and production is not None:
            delta = value - production
        verdict = against.get("verdict")
        if verdict not in {"better", "worse", "same"}:
            verdict = (
                compare(name, value, production)
                if value is not None and production is not None
                else ""
            )
        rows.append(
            {
                "name": str(name),
                "value": value,
                "production": production,
                "delta": delta,
                "verdict": verdict,
                "direction": "higher is better" if higher_is_better(name) else "lower is better",
                "undefined": str(undefined.get(name) or "not computed") if value is None else "",
            }
        )
    return rows


def per_class_rows(report: Report) -> list[dict[str, Any]]:
    rows = []
    for row in _list(_dict(report.get("evaluation")).get("per_class")):
        row = _dict(row)
        rows.append(
            {
                "label": str(row.get("class", "")),
                "precision": _number(row.get("precision")),
                "recall": _number(row.get("recall")),
                "f1": _number(row.get("f1")),
                "support": row.get("support"),
            }
        )
    return rows


def slice_rows(report: Report) -> list[dict[str, Any]]:
    """Slices worst first: by how far each falls behind the whole, in the metric's direction.
    ``gap`` is that shortfall (positive = worse than overall); slices without a value go last."""
    rows = []
    for row in _list(_dict(report.get("evaluation")).get("slices")):
        row = _dict(row)
        value, overall = _number(row.get("value")), _number(row.get("overall"))
        metric = str(row.get("metric", ""))
        gap = None
        if value is not None and overall is not None:
            gap = (overall - value) if higher_is_better(metric) else (value - overall)
        rows.append(
            {
                "feature": str(row.get("feature", "")),
                "kind": str(row.get("kind", "")),
                "slice": str(row.get("slice", "")),
                "count": row.get("count"),
                "metric": metric,
                "value": value,
                "overall": overall,
                "gap": gap,
                "flagged": bool(row.get("flagged")),
            }
        )
    rows.sort(key=lambda r: (r["gap"] is None, -(r["gap"] or 0.0)))
    return rows


def gate_rows(report: Report) -> list[dict[str, Any]]:
    rows = []
    for gate in _list(report.get("gates")):
        gate = _dict(gate)
        rows.append(
            {
                "name": str(gate.get("name", "")),
                "kind": str(gate.get("kind", "")),
                "metric": str(gate.get("metric") or ""),
                "threshold": _gate_value(gate.get("threshold")),
                "measured": _gate_value(gate.get("measured")),
                "passed": bool(gate.get("passed")),
                "detail": str(gate.get("detail") or ""),
            }
        )
    return rows


def _gate_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = _number(value)
    if number is not None:
        return f"{number:.4g}"
    return "—" if value is None else str(value)


def comparison_view(report: Report) -> dict[str, Any] | None:
    """Champion vs challenger: agreement, the sample of disagreements as a table (feature columns
    first, then the two predictions and the truth), latency delta."""
    comparison = report.get("comparison")
    if not isinstance(comparison, dict):
        return None
    sample = [_dict(r) for r in _list(comparison.get("disagreement_sample"))]
    last = ["candidate", "production", "actual"]
    columns: list[str] = []
    for row in sample:
        columns += [str(k) for k in row if k not in last and str(k) not in columns]
    columns += [c for c in last if any(c in row for row in sample)]
    return {
        "against_version": comparison.get("against_version"),
        "rows": comparison.get("rows"),
        "agreement_rate": _number(comparison.get("agreement_rate")),
        "agreement_pct": (_number(comparison.get("agreement_rate")) or 0.0) * 100,
        "disagreements": comparison.get("disagreements"),
        "columns": columns,
        "sample": [[_cell(row.get(c)) for c in columns] for row in sample],
        "latency_delta_ms": _number(comparison.get("latency_delta_ms")),
        "signature_changed": bool(_dict(comparison.get("signature_diff")).get("changed")),
    }


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def cost_view(report: Report) -> dict[str, Any] | None:
    cost = report.get("cost")
    if not isinstance(cost, dict):
        return None
    latency = _dict(cost.get("latency_ms"))
    return {
        "artifact_bytes": cost.get("artifact_bytes"),
        "load_seconds": _number(cost.get("load_seconds")),
        "peak_memory_mb": _number(cost.get("peak_memory_mb")),
        "latency": [
            {
                "label": label,
                "p50": _number(_dict(latency.get(key)).get("p50")),
                "p99": _number(_dict(latency.get(key)).get("p99")),
            }
            for key, label in (("single_row", "1 row"), ("batch_100", "100 rows"))
            if key in latency
        ],
    }


def timing_rows(report: Report) -> list[dict[str, Any]]:
    return [
        {"stage": str(stage), "seconds": _number(seconds)}
        for stage, seconds in _dict(report.get("timings")).items()
    ]


# --- One-line readings, one per chart --------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def roc_reading(report: Report) -> str:
    curves = [
        _dict(c) for c in _list(_dict(_dict(report.get("evaluation")).get("curves")).get("roc"))
    ]
    aucs = [(str(c.get("class", "")), _number(c.get("auc"))) for c in curves]
    aucs = [(label, auc) for label, auc in aucs if auc is not None]
    if not aucs:
        return ""
    if len(aucs) == 1:
        auc = aucs[0][1]
        return (
            f"AUC {auc:.2f}: a random positive case scores above a random negative one "
            f"{_pct(auc)} of the time (0.5 is guessing, 1.0 is perfect)."
        )
    worst = min(aucs, key=lambda item: item[1])
    mean = sum(auc for _, auc in aucs) / len(aucs)
    return (
        f"Mean one-vs-rest AUC {mean:.2f} over {len(aucs)} classes; the hardest class to tell "
        f"apart is {worst[0]} (AUC {worst[1]:.2f})."
    )


def pr_reading(report: Report) -> str:
    curves = [
        _dict(c) for c in _list(_dict(_dict(report.get("evaluation")).get("curves")).get("pr"))
    ]
    aps = [(str(c.get("class", "")), _number(c.get("average_precision"))) for c in curves]
    aps = [(label, ap) for label, ap in aps if ap is not None]
    if not aps:
        return ""
    if len(aps) == 1:
        return (
            f"Average precision {aps[0][1]:.2f} for class {aps[0][0]}: how precise the model stays "
            "as it finds more of that class (1.0 is perfect)."
        )
    worst = min(aps, key=lambda item: item[1])
    return f"Average precision is lowest for class {worst[0]} ({worst[1]:.2f})."


def calibration_reading(report: Report) -> str:
    curves = _list(_dict(_dict(report.get("evaluation")).get("curves")).get("calibration"))
    worst: tuple[float, float, float] | None = None  # (gap, predicted, observed)
    for curve in curves:
        curve = _dict(curve)
        for p, o in zip(
            _list(curve.get("mean_predicted")), _list(curve.get("fraction_positive")), strict=False
        ):
            p, o = _number(p), _number(o)
            if p is None or o is None:
                continue
            if worst is None or abs(p - o) > worst[0]:
                worst = (abs(p - o), p, o)
    if worst is None:
        return ""
    gap, predicted, observed = worst
    if gap <= 0.05:
        return f"Well calibrated: predicted probabilities are within {gap:.2f} of what happened."
    way = "over-confident" if predicted > observed else "under-confident"
    return (
        f"Off by up to {gap:.2f}: where the model says {predicted:.2f}, {observed:.2f} of cases "
        f"were positive ({way} there)."
    )


def confusion_reading(report: Report) -> str:
    cm = _dict(_dict(report.get("evaluation")).get("confusion_matrix"))
    labels = [str(label) for label in _list(cm.get("labels"))]
    matrix = [[_number(v) or 0.0 for v in _list(row)] for row in _list(cm.get("matrix"))]
    total = sum(sum(row) for row in matrix)
    if not total or len(matrix) != len(labels):
        return ""
    right = sum(row[i] for i, row in enumerate(matrix) if i < len(row))
    mistakes = [
        (count, labels[i], labels[j])
        for i, row in enumerate(matrix)
        for j, count in enumerate(row)
        if i != j and j < len(labels) and count
    ]
    text = f"{_pct(right / total)} of {int(total)} rows on the diagonal (predicted correctly)"
    if mistakes:
        count, actual, predicted = max(mistakes)
        text += (
            f"; the most common mistake is {actual} predicted as {predicted} ({int(count)} rows)"
        )
    return text + "."


def regression_readings(report: Report) -> dict[str, str]:
    evaluation = _dict(report.get("evaluation"))
    plots = _dict(evaluation.get("regression_plots"))
    residuals = [r for r in (_number(v) for v in _list(plots.get("residual"))) if r is not None]
    readings = {"predicted": "", "residual": ""}
    r2 = _number(_dict(evaluation.get("metrics")).get("r2"))
    if plots.get("predicted"):
        readings["predicted"] = (
            f"R² {r2:.2f}: " if r2 is not None else ""
        ) + "points on the diagonal are exact predictions; spread away from it is error."
    if residuals:
        mean = sum(residuals) / len(residuals)
        spread = sorted(abs(r) for r in residuals)[max(0, math.ceil(0.9 * len(residuals)) - 1)]
        bias = "over-predicts" if mean < 0 else "under-predicts"
        readings["residual"] = (
            f"Mean residual {mean:+.3g} (the model {bias} on average); 90% of rows are within "
            f"±{spread:.3g} of the truth."
        )
    return readings


def chart_readings(report: Report) -> dict[str, str]:
    return {
        "roc": roc_reading(report),
        "pr": pr_reading(report),
        "calibration": calibration_reading(report),
        "confusion": confusion_reading(report),
        **regression_readings(report),
    }


def chart_data(report: Report) -> dict[str, Any]:
    """Only what the charts draw, for json_script (the page does not need the whole report)."""
    evaluation = _dict(report.get("evaluation"))
    return {
        "task": evaluation.get("task"),
        "confusion_matrix": evaluation.get("confusion_matrix"),
        "curves": evaluation.get("curves"),
        "regression_plots": evaluation.get("regression_plots"),
    }
