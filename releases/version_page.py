"""What the version page shows, computed from a version's stored fields: stage line, failure
summary, metric comparison, parameter and library tables. No queries, no HTTP."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from releases.metric_direction import compare
from releases.models import VALIDATION_STAGES, ModelVersion, VersionStatus

IN_PROGRESS_STATUSES = frozenset({VersionStatus.PENDING, VersionStatus.VALIDATING})
SHOWN_CATEGORIES = 8
# The stages a version goes through before "done"; a failure happens in one of them.
WORK_STAGES = tuple(s for s in VALIDATION_STAGES if s != "done")


def report_of(mv: ModelVersion) -> dict[str, Any]:
    return mv.validation_report if isinstance(mv.validation_report, dict) else {}


def failed_stage(mv: ModelVersion) -> str | None:
    """The stage a failed version was in when it failed, when the worker recorded it."""
    stage = report_of(mv).get("failed_stage")
    return stage if stage in WORK_STAGES else None


def stage_steps(mv: ModelVersion) -> list[dict[str, str]]:
    """One chip per stage: done, active, todo, failed or skipped (never reached)."""
    report = report_of(mv)
    if mv.status == VersionStatus.VALIDATION_FAILED:
        failed = failed_stage(mv)
        at = WORK_STAGES.index(failed) if failed else -1
        steps = []
        for i, stage in enumerate(WORK_STAGES):
            state = "todo" if at < 0 else "done" if i < at else "failed" if i == at else "skipped"
            steps.append({"name": stage, "state": state, "label": stage})
        return [*steps, {"name": "failed", "state": "failed", "label": "failed"}]
    current = report.get("stage", "")
    if mv.status not in IN_PROGRESS_STATUSES:
        current = "done"
    reached = VALIDATION_STAGES.index(current) if current in VALIDATION_STAGES else -1
    steps = []
    for i, stage in enumerate(VALIDATION_STAGES):
        state = "todo"
        if i < reached or (i == reached and stage == "done"):
            state = "done"
        elif i == reached:
            state = "active"
        steps.append({"name": stage, "state": state, "label": stage})
    return steps


def live_fingerprint(mv: ModelVersion) -> str:
    """Changes whenever the live part of the page would: the poller swaps only then, so a
    reviewer's half-ticked trust form is not redrawn under their cursor."""
    report = report_of(mv)
    state = [
        mv.status,
        str(report.get("stage", "")),
        str(report.get("failed_stage", "")),
        sorted(mv.trusted_types),
        mv.pending_trust,
        mv.compiled_check,
        mv.status_changed_at.isoformat() if mv.status_changed_at else "",
    ]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


def signature_rows(signature: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for feature in (signature or {}).get("features", []):
        categories = [str(c) for c in feature.get("categories") or []]
        hidden = len(categories) - SHOWN_CATEGORIES
        rows.append(
            {
                "name": feature.get("name"),
                "type": feature.get("type"),
                "categories": categories[:SHOWN_CATEGORIES],
                "more": hidden if hidden > 0 else 0,
                "truncated": bool(feature.get("categories_truncated")),
            }
        )
    return rows


def metrics_of(mv: ModelVersion | None) -> dict[str, Any]:
    if mv is None:
        return {}
    return (report_of(mv).get("evaluation") or {}).get("metrics") or {}


def metric_rows(mv: ModelVersion, production: ModelVersion | None) -> list[dict[str, Any]]:
    """Each metric beside production's, with the change and whether it is better or worse.
    A metric the validator could not compute (None) carries its reason instead of a number."""
    baseline = metrics_of(production) if production and production.pk != mv.pk else {}
    undefined = (report_of(mv).get("evaluation") or {}).get("undefined_metrics") or {}
    rows = []
    for name, value in metrics_of(mv).items():
        row: dict[str, Any] = {
            "name": name,
            "value": value,
            "baseline": baseline.get(name),
            "undefined": str(undefined.get(name) or "not computed") if value is None else "",
        }
        if isinstance(value, int | float) and isinstance(row["baseline"], int | float):
            row["delta"] = value - row["baseline"]
            row["verdict"] = compare(name, value, row["baseline"])
        rows.append(row)
    return rows


def _is_estimator(value: Any) -> bool:
    # releases.artifact_safety.describe_estimator's shape for a nested estimator.
    return isinstance(value, dict) and isinstance(value.get("class"), str) and "params" in value


def _short_class(path: str) -> str:
    return path.rpartition(".")[2] or path


def _format_value(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def parameter_rows(params: dict[str, Any] | None, prefix: str = "") -> list[dict[str, str]]:
    """Parameters flattened the way scikit-learn names them: nested estimators become a row with
    their class, then ``step__param`` rows (Pipeline steps, ColumnTransformer transformers)."""
    rows: list[dict[str, str]] = []
    for key in sorted(params or {}):
        value = (params or {})[key]
        name = f"{prefix}{key}"
        if _is_estimator(value):
            rows.append({"name": name, "value": value["class"], "kind": "estimator"})
            rows += parameter_rows(value.get("params"), f"{name}__")
        elif (
            isinstance(value, list)
            and value
            and all(
                isinstance(item, list)
                and len(item) >= 2
                and isinstance(item[0], str)
                and (_is_estimator(item[1]) or isinstance(item[1], str))
                for item in value
            )
        ):
            # Named steps: (name, estimator) or (name, estimator, columns).
            rows.append(
                {
                    "name": name,
                    "value": " → ".join(item[0] for item in value),
                    "kind": "steps",
                }
            )
            for step_name, step, *rest in value:
                step_key = f"{prefix}{step_name}"
                label = _short_class(step["class"]) if _is_estimator(step) else str(step)
                if rest:
                    columns = rest[0]
                    shown = (
                        ", ".join(str(c) for c in columns)
                        if isinstance(columns, list)
                        else _format_value(columns)
                    )
                    label += f" on {shown}"
                rows.append({"name": step_key, "value": label, "kind": "estimator"})
                if _is_estimator(step):
                    rows += parameter_rows(step.get("params"), f"{step_key}__")
        else:
            rows.append({"name": name, "value": _format_value(value), "kind": "value"})
    return rows


def library_rows(library_versions: dict[str, Any] | None) -> list[dict[str, str]]:
    rows = []
    for name, value in sorted((library_versions or {}).items()):
        if isinstance(value, dict):
            shown = ", ".join(f"{k or 'ai.onnx'} {v}" for k, v in sorted(value.items()))
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        rows.append({"name": str(name), "version": shown})
    return rows


# What a failure's code says to do next, beyond "fix what the message names".
_NEXT_STEPS = {
    "untrusted_type": "trust",
    "forbidden_type": "rebuild",
    "pickle_refused": "rebuild",
    "unknown_format": "rebuild",
}


def failure_summary(mv: ModelVersion) -> dict[str, Any]:
    """Which stage failed, what was learned before, and which next step fits the error."""
    report = report_of(mv)
    failed = failed_stage(mv)
    passed = list(WORK_STAGES[: WORK_STAGES.index(failed)]) if failed else []
    code = str(report.get("error_code") or "")
    learned: list[str] = []
    if passed:
        learned.append("It passed: " + ", ".join(passed) + ".")
    if mv.estimator_class:
        learned.append(f"It loaded as {mv.estimator_class}.")
    if mv.signature:
        features = len(mv.signature.get("features") or [])
        learned.append(
            f"Its signature: {mv.signature.get('task', 'unknown task')}, "
            f"{features} feature{'' if features == 1 else 's'}."
        )
    return {
        "stage": failed,
        "code": code,
        "passed": passed,
        "learned": learned,
        "next": _NEXT_STEPS.get(code, "fix"),
    }
