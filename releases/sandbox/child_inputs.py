"""What a sandboxed operation reads first, the same way in every operation: the model artifact
(under the skops policy, or an ONNX file) and the evaluation CSV. An unsafe artifact or an
unusable CSV becomes the operation's verdict (`OperationRefused`), never a crash.

Plain module, imported in the child only: no Django.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from releases.sandbox.child import OperationRefused


def load_model_in_child(*, inputs: Path, args: dict[str, Any]) -> Any:
    """The artifact ``args["artifact"]``: an ONNX session when ``args["format"]`` says so,
    else the skops model loaded under the trusted types and size limits in ``args``."""
    from releases.artifact_safety import UnsafeArtifact, load_skops

    try:
        if args.get("format") == "onnx":
            return load_onnx_in_child(path=inputs / args["artifact"])
        return load_skops(
            path=inputs / args["artifact"],
            trusted=set(args["trusted"]),
            max_uncompressed_bytes=args["max_uncompressed_bytes"],
            max_entries=args["max_entries"],
            max_schema_bytes=args["max_schema_bytes"],
        )
    except UnsafeArtifact as exc:
        raise OperationRefused("unsafe", exc.code, exc.message) from None


def load_onnx_in_child(*, path: Path) -> Any:
    """An ONNX Runtime session as every sandboxed job opens one: one thread (the default pool
    starts a thread per core, each with its stack and malloc arena, so the memory a job needed
    depended on the machine) and no arena."""
    from releases.artifact_safety import load_onnx

    return load_onnx(path=path, intra_op_threads=1, memory_arena=False)


def read_evaluation_in_child(*, inputs: Path, args: dict[str, Any], max_rows: int) -> Any:
    """The evaluation CSV ``args["evaluation"]`` with its target ``args["target"]``."""
    from releases.signature import InvalidEvaluationData, read_evaluation_csv

    try:
        return read_evaluation_csv(
            path_or_file=inputs / args["evaluation"], target=args["target"], max_rows=max_rows
        )
    except InvalidEvaluationData as exc:
        raise OperationRefused("unusable", "unusable", str(exc)) from None


def missing_features(frame: Any, features: list[str]) -> list[str]:
    return [name for name in features if name not in frame.columns]
