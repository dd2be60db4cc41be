"""The compiled-form check in the sandbox: the parent call and the function the child runs.

A job of its own, queued when validation succeeds (validation no longer waits for it: on a
100k-row evaluation set the conversion and the comparison cost about as much as the rest of
validation). The child loads the model under the same policies as validation, predicts on the
same evaluation rows validation scored, converts it with skl2onnx and compares
(`releases.compiled.compile_and_check`). Plain module: no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from releases.sandbox.child import OperationRefused
from releases.sandbox.runner import SandboxLimits, run_operation

OPERATION = "releases.sandbox.compiled_check:compiled_check_in_child"
STAGES = ("loading model", "checking", "done")
ONNX_ARRAY = "onnx_model"


def compiled_check_in_sandbox(
    *,
    artifact_path: Path,
    trusted: Collection[str],
    evaluation_path: Path,
    target: str,
    features: list[str],
    signature: dict[str, Any],
    max_rows: int,
    max_uncompressed_bytes: int,
    max_entries: int,
    max_schema_bytes: int,
    limits: SandboxLimits,
    mode: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
) -> tuple[dict[str, Any], bytes | None]:
    """The evidence, and the ONNX bytes when the conversion reproduces scikit-learn; raises
    `SandboxFailure` when the job cannot finish."""
    result = run_operation(
        operation=OPERATION,
        args={
            "artifact": "artifact.skops",
            "trusted": sorted(trusted),
            "evaluation": "evaluation.csv",
            "target": target,
            "features": features,
            "signature": signature,
            "max_rows": max_rows,
            "max_uncompressed_bytes": max_uncompressed_bytes,
            "max_entries": max_entries,
            "max_schema_bytes": max_schema_bytes,
        },
        inputs={"artifact.skops": artifact_path, "evaluation.csv": evaluation_path},
        limits=limits,
        mode=mode,
        on_stage=on_stage,
        stages=STAGES,
    )
    compiled = result.arrays.get(ONNX_ARRAY)
    return dict(result.data), (compiled.tobytes() if compiled is not None else None)


def compiled_check_in_child(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs in the sandboxed child."""
    from releases.compiled import compile_and_check
    from releases.sandbox.child_inputs import (
        load_model_in_child,
        load_onnx_in_child,
        missing_features,
        read_evaluation_in_child,
    )

    on_stage("loading model")
    model = load_model_in_child(inputs=inputs, args=args)
    frame = read_evaluation_in_child(inputs=inputs, args=args, max_rows=args["max_rows"])
    on_stage("checking")
    missing = missing_features(frame, args["features"])
    if missing:
        raise OperationRefused(
            "unusable",
            "unusable",
            f"The evaluation set lacks the model's features {', '.join(map(repr, missing))}.",
        )
    # The rows validation scored: those with a target value.
    X = frame.dropna(subset=[args["target"]])[args["features"]]
    compiled = compile_and_check(
        estimator=model,
        signature=args["signature"],
        X=X,
        work=work,
        load_session=lambda path: load_onnx_in_child(path=path),
    )
    on_stage("done")
    arrays: dict[str, Any] = {}
    if compiled.onnx:
        arrays[ONNX_ARRAY] = np.frombuffer(compiled.onnx, dtype=np.uint8)
    return compiled.evidence, arrays
