"""Batch scoring in the sandbox: the parent call and the function the child runs.

Why the sandbox rather than loading the model in the worker (releases.loading, as the serving
path does): a batch job runs the model for minutes on a file its caller chose, so the model is
treated as untrusted exactly as in validation, with memory, CPU and wall-clock limits, no
network and no secrets. The cost is one child start and one model load per job (about a second
for a forest, see the README), which a job of thousands of rows does not notice; the child loads
the model once and scores every chunk, reporting progress after each.

The parent (the worker) reads and checks the rows (plain code, no model), hands the child only
the checked model input as Parquet, and gets back numpy arrays: the labels, and the
probabilities with their classes. Plain module: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from releases.sandbox.child import OperationRefused
from releases.sandbox.runner import PROJECT_DIR, SandboxLimits, run_operation

OPERATION = "scoring.batch_sandbox:score_in_child"
# The child imports the plain scoring modules (predictor) besides the registry's loaders.
CODE_PACKAGES = (PROJECT_DIR / "releases", PROJECT_DIR / "scoring")
_SCORING = re.compile(r"^scoring rows (\d+)-(\d+)$")


def rows_before(stage: str) -> int | None:
    """Rows already scored when the child reports ``stage`` ("scoring rows 10001-20000")."""
    found = _SCORING.match(stage)
    return int(found.group(1)) - 1 if found else None


def score_in_sandbox(
    *,
    artifact_path: Path,
    artifact_format: str,
    trusted: Collection[str],
    rows_path: Path,
    signature: dict[str, Any],
    chunk_rows: int,
    max_uncompressed_bytes: int,
    max_entries: int,
    max_schema_bytes: int,
    limits: SandboxLimits,
    mode: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
) -> tuple[np.ndarray, np.ndarray | None, list[Any] | None]:
    """(labels, probabilities or None, classes or None); raises `SandboxFailure`."""
    artifact = f"artifact.{artifact_format}"
    result = run_operation(
        operation=OPERATION,
        args={
            "artifact": artifact,
            "format": artifact_format,
            "trusted": sorted(trusted),
            "rows": "rows.parquet",
            "signature": signature,
            "chunk_rows": chunk_rows,
            "max_uncompressed_bytes": max_uncompressed_bytes,
            "max_entries": max_entries,
            "max_schema_bytes": max_schema_bytes,
        },
        inputs={artifact: artifact_path, "rows.parquet": rows_path},
        limits=limits,
        mode=mode,
        on_stage=on_stage,
        code_packages=CODE_PACKAGES,
    )
    classes = (result.data or {}).get("classes")
    return result.arrays["labels"], result.arrays.get("probabilities"), classes


def score_in_child(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs in the sandboxed child."""
    import pandas as pd

    from releases.sandbox.child_inputs import load_model_in_child
    from scoring.predictor import score

    on_stage("loading model")
    model = load_model_in_child(inputs=inputs, args=args)
    frame = pd.read_parquet(inputs / args["rows"])
    signature = args["signature"]
    chunk = int(args["chunk_rows"])
    labels: list[Any] = []
    probabilities: list[np.ndarray] = []
    classes: list[Any] | None = None
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start : start + chunk].reset_index(drop=True)
        on_stage(f"scoring rows {start + 1}-{start + len(part)}")
        try:
            scored = score(model, part, signature=signature)
        except Exception as exc:  # the model's own failure, named for the caller
            raise OperationRefused(
                "unusable",
                "model_failed",
                f"The model could not score rows {start + 1}-{start + len(part)}: "
                f"{type(exc).__name__}: {str(exc)[:300]}",
            ) from None
        labels.extend(scored.predictions)
        if scored.probabilities is not None:
            probabilities.append(scored.probabilities)
            classes = scored.classes
    on_stage("done")
    arrays: dict[str, Any] = {"labels": np.asarray(labels)}
    if probabilities:
        arrays["probabilities"] = np.concatenate(probabilities)
    return {"classes": classes}, arrays
