"""Validating a version in the sandbox: the parent call and the function the child runs.

The child reads the evaluation CSV itself and calls `releases.validation.validate_artifact`; the
parent (the worker) never deserializes the user's model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releases.sandbox.child import OperationRefused
from releases.sandbox.runner import SandboxLimits, run_operation

logger = logging.getLogger(__name__)

OPERATION = "releases.sandbox.validation:validate_in_child"


@dataclass(frozen=True)
class ProductionInput:
    """The production version's file, for champion vs challenger in the same child."""

    path: Path
    artifact_format: str
    trusted: Collection[str]
    version: int


def validate_in_sandbox(
    *,
    artifact_path: Path,
    artifact_format: str,
    trusted: Collection[str],
    evaluation_path: Path | None,
    target: str | None,
    max_rows: int,
    max_uncompressed_bytes: int,
    max_entries: int,
    max_schema_bytes: int,
    limits: SandboxLimits,
    mode: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
    stages: Collection[str] | None = None,
    parameter_policy: bool = True,
    structure_checks: bool = True,
    production: ProductionInput | None = None,
    measure_latency: bool = True,
    disagreements: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return `validate_artifact`'s report, or raise `SandboxFailure` saying why not.

    With ``production``, the same child also loads the production artifact (under the same
    policies, with its own trusted types) and compares; ``disagreements``, when given, receives
    the disagreeing row positions and both models' predictions on them (numpy arrays).

    ``parameter_policy`` and ``structure_checks`` are True in production; only tests turn them
    off, to show that the sandbox alone contains an attack. Never derive them from user input.
    """
    artifact_name = f"artifact.{artifact_format}"
    inputs = {artifact_name: artifact_path}
    if evaluation_path is not None:
        inputs["evaluation.csv"] = evaluation_path
    production_args = None
    if production is not None:
        production_name = f"production.{production.artifact_format}"
        inputs[production_name] = production.path
        production_args = {
            "artifact": production_name,
            "format": production.artifact_format,
            "trusted": sorted(production.trusted),
            "version": production.version,
        }
    result = run_operation(
        operation=OPERATION,
        args={
            "artifact": artifact_name,
            "format": artifact_format,
            "trusted": sorted(trusted),
            "evaluation": "evaluation.csv" if evaluation_path is not None else None,
            "target": target,
            "max_rows": max_rows,
            "max_uncompressed_bytes": max_uncompressed_bytes,
            "max_entries": max_entries,
            "max_schema_bytes": max_schema_bytes,
            "parameter_policy": parameter_policy,
            "structure_checks": structure_checks,
            "production": production_args,
            "measure_latency": measure_latency,
        },
        inputs=inputs,
        limits=limits,
        mode=mode,
        on_stage=on_stage,
        stages=stages,
    )
    if disagreements is not None:
        disagreements.update(
            {k: result.arrays[k] for k in _DISAGREEMENT_ARRAYS if k in result.arrays}
        )
    report: dict[str, Any] = result.data
    return report


_DISAGREEMENT_ARRAYS = ("positions", "candidate", "production")


def validate_in_child(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs in the sandboxed child."""
    import time

    started = time.perf_counter()
    from releases.artifact_safety import UnsafeArtifact
    from releases.signature import InvalidEvaluationData, read_evaluation_csv
    from releases.validation import ProductionArtifact, ValidationFailed, validate_artifact

    imported = time.perf_counter()
    try:
        evaluation = None
        if args["evaluation"]:
            evaluation = read_evaluation_csv(
                path_or_file=inputs / args["evaluation"],
                target=args["target"],
                max_rows=args["max_rows"],
            )
        read = time.perf_counter()
        production = None
        if args.get("production"):
            production = ProductionArtifact(
                path=inputs / args["production"]["artifact"],
                artifact_format=args["production"]["format"],
                trusted=set(args["production"]["trusted"]),
                version=int(args["production"]["version"]),
            )
        disagreements: dict[str, Any] = {}
        report = validate_artifact(
            path=inputs / args["artifact"],
            artifact_format=args["format"],
            trusted=set(args["trusted"]),
            evaluation=evaluation,
            target=args["target"],
            max_uncompressed_bytes=args["max_uncompressed_bytes"],
            max_entries=args["max_entries"],
            max_schema_bytes=args["max_schema_bytes"],
            on_stage=on_stage,
            parameter_policy=args["parameter_policy"],
            structure_checks=args["structure_checks"],
            production=production,
            measure_latency=args.get("measure_latency", True),
            disagreements=disagreements,
        )
    except UnsafeArtifact as exc:
        raise OperationRefused("unsafe", exc.code, exc.message) from None
    except (ValidationFailed, InvalidEvaluationData) as exc:
        raise OperationRefused("unusable", "unusable", str(exc)) from None
    # Not stages (the page shows the model's own steps), but part of what the job costs.
    report["timings"] = {
        "importing libraries": round(imported - started, 4),
        "reading evaluation data": round(read - imported, 4),
        **report.get("timings", {}),
    }
    arrays: dict[str, Any] = dict(disagreements)
    return report, arrays
