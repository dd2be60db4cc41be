"""What the review page shows, computed from stored fields: the candidate beside production
(metric deltas, agreement, signature and parameter diffs), the release gates and the approvals.
Reads the validation report's ``comparison`` and ``gates`` when the validator wrote them, and
falls back on what older versions have. No queries, no HTTP."""

from __future__ import annotations

from typing import Any

from releases.metric_direction import compare
from releases.models import ModelVersion, ReviewDecision
from releases.version_page import metric_rows, parameter_rows, report_of


def comparison_of(mv: ModelVersion) -> dict[str, Any] | None:
    comparison = report_of(mv).get("comparison")
    return comparison if isinstance(comparison, dict) else None


def candidate_metric_rows(
    mv: ModelVersion, production: ModelVersion | None
) -> list[dict[str, Any]]:
    """The comparison the validator measured on the same rows when it exists, else each
    version's own metrics side by side (measured separately, maybe on other rows)."""
    comparison = comparison_of(mv)
    metrics = (comparison or {}).get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return metric_rows(mv, production)
    rows = []
    for name, m in metrics.items():
        if not isinstance(m, dict):
            continue
        value, baseline = m.get("candidate"), m.get("production")
        row: dict[str, Any] = {
            "name": name,
            "value": value,
            "baseline": baseline,
            "undefined": "" if value is not None else "not computed",
        }
        if isinstance(value, int | float) and isinstance(baseline, int | float):
            row["delta"] = m.get("delta", value - baseline)
            row["verdict"] = m.get("verdict") or compare(name, value, baseline)
        rows.append(row)
    return rows


def agreement_percent(comparison: dict[str, Any] | None) -> float | None:
    rate = (comparison or {}).get("agreement_rate")
    return 100 * rate if isinstance(rate, int | float) else None


def signature_diff_of(mv: ModelVersion) -> dict[str, Any] | None:
    diff = (comparison_of(mv) or {}).get("signature_diff") or mv.signature_diff
    return diff if isinstance(diff, dict) else None


def parameter_diff(
    candidate: dict[str, Any] | None, production: dict[str, Any] | None
) -> dict[str, Any]:
    """Flattened parameters (``step__param``) of both versions: the rows that differ, and how
    many are the same."""
    new = {r["name"]: r["value"] for r in parameter_rows(candidate)}
    old = {r["name"]: r["value"] for r in parameter_rows(production)}
    rows = []
    for name in sorted(set(new) | set(old)):
        if name not in old:
            change = "added"
        elif name not in new:
            change = "removed"
        elif new[name] != old[name]:
            change = "changed"
        else:
            continue
        rows.append(
            {
                "name": name,
                "production": old.get(name),
                "candidate": new.get(name),
                "change": change,
            }
        )
    same = len(set(new) & set(old)) - sum(r["change"] == "changed" for r in rows)
    return {"rows": rows, "same": same}


def gate_rows(mv: ModelVersion) -> list[dict[str, Any]]:
    gates = report_of(mv).get("gates")
    return [g for g in gates if isinstance(g, dict)] if isinstance(gates, list) else []


def approval_summary(mv: ModelVersion) -> dict[str, Any]:
    """Reviews are prefetched by the selector: no query per version."""
    reviews = list(mv.reviews.all())
    approvals = [r for r in reviews if r.decision == ReviewDecision.APPROVE]
    return {
        "required": mv.registered_model.required_approvals,
        "received": len(approvals),
        "reviews": reviews,
        "reviewer_ids": {r.reviewer_id for r in reviews},
    }


def stages_held(mv: ModelVersion) -> list[str]:
    """Prefetched by the selector."""
    return sorted(a.stage for a in mv.stage_assignments.all())


def importance_rows(comparison: dict[str, Any] | None, *, limit: int = 10) -> list[dict[str, Any]]:
    """The top features by the candidate's mean |SHAP|, each beside production's value, from
    ``explain.selectors.importance_comparison``; empty until the candidate's report is done."""
    if not comparison:
        return []
    production = comparison.get("production") or {}
    rows = []
    for name in comparison["features"][:limit]:
        candidate = comparison["candidate"].get(name)
        live = production.get(name)
        rows.append(
            {
                "feature": name,
                "candidate": candidate,
                "production": live,
                "delta": None if candidate is None or live is None else candidate - live,
            }
        )
    return rows
