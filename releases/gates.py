"""Release gates: a model's policy (RegisteredModel.gates) checked against a validation report.

Plain module: no Django. Each gate is a pass/fail check with the measured value and the
threshold. A version that fails a gate still validates with its full report; promotion reads
``report["gates_passed"]``.

Policy shape (every key optional)::

    {"min_metrics": {"accuracy": 0.9, "mae": 2.5},      # at least this good
     "max_regression": {"roc_auc": 0.01},               # at most this much worse than production
     "max_latency_ms": 50,                              # single-row predict latency, p99
     "block_breaking_signature_change": true}

"At least this good" follows the metric's direction (`releases.metric_direction`): a minimum for
scores such as accuracy, a maximum for errors such as mae.
"""

from __future__ import annotations

import math
from typing import Any

from releases.evaluation import ALL_METRICS
from releases.metric_direction import higher_is_better

POLICY_KEYS = ("min_metrics", "max_regression", "max_latency_ms", "block_breaking_signature_change")
GATE_METRICS = frozenset(ALL_METRICS)
MAX_GATE_COUNT = 50


class GatePolicyError(ValueError):
    """The policy is not usable; ``field`` names the offending key (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GatePolicyError(where, f"{where} must be a finite number, not {value!r}.")
    return float(value)


def clean_policy(policy: Any) -> dict[str, Any]:
    """The policy, checked strictly: an unknown key or metric, or a value of the wrong type, is
    a `GatePolicyError` naming it. Returns a normalised copy (numbers as floats)."""
    if not isinstance(policy, dict):
        raise GatePolicyError("gates", "gates must be a JSON object.")
    unknown = [k for k in policy if k not in POLICY_KEYS]
    if unknown:
        raise GatePolicyError(
            f"gates.{unknown[0]}",
            f"Unknown gate {unknown[0]!r}; use {', '.join(POLICY_KEYS)}.",
        )
    clean: dict[str, Any] = {}
    for key in ("min_metrics", "max_regression"):
        if key not in policy:
            continue
        section = policy[key]
        if not isinstance(section, dict):
            raise GatePolicyError(
                f"gates.{key}", f"gates.{key} must be an object of metric: number."
            )
        if len(section) > MAX_GATE_COUNT:
            raise GatePolicyError(f"gates.{key}", f"gates.{key} has too many metrics.")
        checked: dict[str, float] = {}
        for metric, value in section.items():
            where = f"gates.{key}.{metric}"
            if metric not in GATE_METRICS:
                raise GatePolicyError(
                    where,
                    f"Unknown metric {metric!r} in gates.{key}; use one of "
                    f"{', '.join(sorted(GATE_METRICS))}.",
                )
            number = _number(value, where)
            if key == "max_regression" and number < 0:
                raise GatePolicyError(where, f"{where} must be 0 or more (an allowed drop).")
            checked[metric] = number
        clean[key] = checked
    if "max_latency_ms" in policy and policy["max_latency_ms"] is not None:
        number = _number(policy["max_latency_ms"], "gates.max_latency_ms")
        if number <= 0:
            raise GatePolicyError("gates.max_latency_ms", "gates.max_latency_ms must be above 0.")
        clean["max_latency_ms"] = number
    if "block_breaking_signature_change" in policy:
        flag = policy["block_breaking_signature_change"]
        if not isinstance(flag, bool):
            raise GatePolicyError(
                "gates.block_breaking_signature_change",
                "gates.block_breaking_signature_change must be true or false.",
            )
        clean["block_breaking_signature_change"] = flag
    return clean


def breaking_changes(diff: dict[str, Any] | None) -> list[str]:
    """What in a signature diff breaks callers of the production version: inputs they do not
    send yet, inputs whose type changed, a different task, or classes they may rely on gone.
    (A removed input is not breaking: callers may keep sending it.)"""
    if not diff:
        return []
    found = []
    if diff.get("added"):
        found.append("new required inputs: " + ", ".join(map(str, diff["added"])))
    if diff.get("retyped"):
        found.append("inputs changed type: " + ", ".join(str(r["name"]) for r in diff["retyped"]))
    if diff.get("task_changed"):
        found.append("the task changed")
    if diff.get("classes_removed"):
        found.append("classes removed: " + ", ".join(map(str, diff["classes_removed"])))
    return found


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def evaluate(policy: dict[str, Any], report: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Each gate of ``policy`` checked against ``report`` (the stored report shape)."""
    gates: list[dict[str, Any]] = []
    evaluation = report.get("evaluation") or {}
    measured_metrics = evaluation.get("metrics") or {}
    undefined = evaluation.get("undefined_metrics") or {}
    comparison = report.get("comparison")

    for metric, threshold in (policy.get("min_metrics") or {}).items():
        value = measured_metrics.get(metric)
        higher = higher_is_better(metric)
        bound = "at least" if higher else "at most"
        if value is None:
            why = undefined.get(metric) or "it was not measured for this version"
            passed, detail = (
                False,
                f"{metric} is undefined ({why}); it must be {bound} {_fmt(threshold)}.",
            )
        else:
            passed = value >= threshold if higher else value <= threshold
            detail = f"{metric} is {_fmt(value)}; it must be {bound} {_fmt(threshold)}."
        gates.append(
            {"name": f"{metric} {'≥' if higher else '≤'} {_fmt(threshold)}", "kind": "min_metric",
             "metric": metric, "threshold": threshold, "measured": value, "passed": passed,
             "detail": detail}
        )  # fmt: skip

    for metric, allowed in (policy.get("max_regression") or {}).items():
        name = f"{metric} no more than {_fmt(allowed)} worse than production"
        delta = (((comparison or {}).get("metrics") or {}).get(metric) or {}).get("delta")
        if comparison is None:
            passed, measured = True, None
            detail = "No production version to compare with: nothing to regress from."
        elif delta is None:
            passed, measured = False, None
            detail = f"{metric} could not be compared with production (undefined for one of them)."
        else:
            # How much worse the candidate is, in the metric's own units (negative = better).
            measured = -delta if higher_is_better(metric) else delta
            passed = measured <= allowed + 1e-12
            detail = (
                f"{metric} is {_fmt(abs(measured))} {'worse' if measured > 0 else 'better'} than "
                f"production; at most {_fmt(allowed)} worse is allowed."
            )
        gates.append(
            {"name": name, "kind": "max_regression", "metric": metric, "threshold": allowed,
             "measured": measured, "passed": passed, "detail": detail}
        )  # fmt: skip

    if policy.get("max_latency_ms") is not None:
        limit = policy["max_latency_ms"]
        latency = (
            ((report.get("cost") or {}).get("latency_ms") or {}).get("single_row") or {}
        ).get("p99")
        if latency is None:
            passed, detail = False, "Single-row latency was not measured for this version."
        else:
            passed = latency <= limit
            detail = f"Single-row predict p99 is {_fmt(latency)} ms; the limit is {_fmt(limit)} ms."
        gates.append(
            {"name": f"single-row latency p99 ≤ {_fmt(limit)} ms", "kind": "max_latency",
             "metric": "latency_ms", "threshold": limit, "measured": latency, "passed": passed,
             "detail": detail}
        )  # fmt: skip

    if policy.get("block_breaking_signature_change"):
        diff = (comparison or {}).get("signature_diff") or report.get("signature_diff")
        breaking = breaking_changes(diff)
        gates.append(
            {"name": "no breaking signature change", "kind": "signature", "metric": None,
             "threshold": True, "measured": not breaking, "passed": not breaking,
             "detail": ("Breaking change against production: " + "; ".join(breaking) + ".")
             if breaking else "No breaking change against production's signature."}
        )  # fmt: skip
    return gates, all(g["passed"] for g in gates)
