"""The SHAP report in the sandbox: the parent call and the function the child runs.

Plain module: no Django. The child loads the model under the same policies as validation, reads
the evaluation CSV, explains a sample of it and sends back the summary (JSON) and the arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from releases.sandbox.child import OperationRefused
from releases.sandbox.runner import SandboxLimits, SandboxResult, run_operation

OPERATION = "explain.sandbox_ops:shap_report_in_child"
STAGES = ("loading model", "explaining", "done")


def shap_report_in_sandbox(
    *,
    artifact_path: Path,
    trusted: Collection[str],
    evaluation_path: Path,
    target: str | None,
    features: list[str],
    sample_rows: int,
    background_rows: int,
    max_evaluation_rows: int,
    max_uncompressed_bytes: int,
    max_entries: int,
    max_schema_bytes: int,
    limits: SandboxLimits,
    mode: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
) -> SandboxResult:
    """Return the child's summary and arrays, or raise `SandboxFailure` saying why not."""
    return run_operation(
        operation=OPERATION,
        args={
            "artifact": "artifact.skops",
            "trusted": sorted(trusted),
            "evaluation": "evaluation.csv",
            "target": target,
            "features": features,
            "sample_rows": sample_rows,
            "background_rows": background_rows,
            "max_evaluation_rows": max_evaluation_rows,
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


def shap_report_in_child(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs in the sandboxed child."""
    from explain import shap_report
    from releases.sandbox.child_inputs import load_model_in_child, read_evaluation_in_child

    on_stage("loading model")
    started = time.perf_counter()
    model = load_model_in_child(inputs=inputs, args=args)
    frame = read_evaluation_in_child(inputs=inputs, args=args, max_rows=args["max_evaluation_rows"])
    features = args["features"]
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise OperationRefused(
            "unusable",
            "unusable",
            "The evaluation data lacks the model's features "
            + ", ".join(missing[:20])
            + ", so there is nothing to explain.",
        )
    load_seconds = time.perf_counter() - started
    on_stage("explaining")
    sample = frame.sample(n=min(args["sample_rows"], len(frame)), random_state=0)
    rest = frame.drop(index=sample.index)
    pool = rest if len(rest) >= args["background_rows"] else frame
    background = pool.sample(n=min(args["background_rows"], len(pool)), random_state=1)
    try:
        explained = shap_report.explain(
            model=model, features=features, sample=sample, background=background
        )
    except (ValueError, TypeError) as exc:
        raise OperationRefused(
            "unusable",
            "unexplainable",
            "SHAP could not explain this model on its evaluation data: "
            + str(exc).splitlines()[0][:300],
        ) from None
    explained_rows = sample.iloc[: explained.rows_explained]
    feature_values, categories = shap_report.feature_matrix(explained_rows, features)
    summary = shap_report.summary(explained)
    summary.update(
        {
            "categories": categories,
            "sample_rows": len(sample),
            "background_rows": len(background),
            "evaluation_rows": len(frame),
            "timings": {
                "load_seconds": round(load_seconds, 4),
                "explain_seconds": round(explained.seconds, 4),
            },
        }
    )
    on_stage("done")
    arrays = {
        "values": explained.values,
        "base_values": explained.base_values,
        "outputs": explained.outputs_explained,
        "feature_values": feature_values,
    }
    return summary, arrays
