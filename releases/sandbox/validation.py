"""Validating a version in the sandbox: the parent call and the function the child runs.

The child reads the evaluation CSV itself and calls `releases.validation.validate_artifact`; the
parent (the worker) never deserializes the user's model.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from releases.sandbox.child import OperationRefused
from releases.sandbox.runner import SandboxLimits, run_operation

OPERATION = "releases.sandbox.validation:validate_in_child"


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
) -> dict[str, Any]:
    """Return `validate_artifact`'s report, or raise `SandboxFailure` saying why not.

    ``parameter_policy`` and ``structure_checks`` are True in production; only tests turn them
    off, to show that the sandbox alone contains an attack. Never derive them from user input.
    """
    artifact_name = f"artifact.{artifact_format}"
    inputs = {artifact_name: artifact_path}
    if evaluation_path is not None:
        inputs["evaluation.csv"] = evaluation_path
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
        },
        inputs=inputs,
        limits=limits,
        mode=mode,
        on_stage=on_stage,
        stages=stages,
    )
    return result.data  # type: ignore[no-any-return]


def validate_in_child(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs in the sandboxed child."""
    from releases.artifact_safety import UnsafeArtifact
    from releases.signature import InvalidEvaluationData, read_evaluation_csv
    from releases.validation import ValidationFailed, validate_artifact

    try:
        evaluation = None
        if args["evaluation"]:
            evaluation = read_evaluation_csv(
                path_or_file=inputs / args["evaluation"],
                target=args["target"],
                max_rows=args["max_rows"],
            )
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
        )
    except UnsafeArtifact as exc:
        raise OperationRefused("unsafe", exc.code, exc.message) from None
    except (ValidationFailed, InvalidEvaluationData) as exc:
        raise OperationRefused("unusable", "unusable", str(exc)) from None
    return report, {}
