"""Checking what an upload brings before anything is stored: the artifact by content, the
evaluation CSV and its target; plus the dataset row and clean-up helpers both services share."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File

from releases.artifact_store import StoredFile, discard, store_content_addressed
from releases.errors import (
    DomainError,
    InvalidInput,
    PayloadTooLarge,
    UnsafeArtifactRefused,
    UnsupportedFormat,
)
from releases.models import (
    EvaluationDataset,
    ModelVersion,
    RegisteredModel,
)
from releases.sandbox import SandboxLimits

if TYPE_CHECKING:
    import pandas as pd


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_evaluation_target(
    *, registered_model: RegisteredModel, evaluation_data: File | None, target: str
) -> None:
    """A CSV needs its target column; a target alone must be the standing set's (the stored set
    was checked against its own target, and ignoring a new one would mislead the caller)."""
    if evaluation_data is not None and not target:
        raise InvalidInput(
            "Say which column of the evaluation CSV is the target (the 'target' field).",
            field="target",
        )
    standing = registered_model.evaluation_dataset
    if target and evaluation_data is None and (standing is None or standing.target != target):
        raise InvalidInput(
            f"The target {target!r} needs an evaluation CSV: attach one in 'evaluation_data', "
            "or leave 'target' empty (or unchanged) to keep the model's standing evaluation set"
            + (f" (target {standing.target!r})." if standing else "."),
            field="evaluation_data",
        )


def evaluation_dataset_create(
    *,
    registered_model: RegisteredModel,
    stored: StoredFile,
    upload: File | None,
    target: str,
    frame: pd.DataFrame,
    actor: User,
) -> EvaluationDataset:
    return EvaluationDataset.objects.create(
        registered_model=registered_model,
        file=stored.name,
        original_name=((upload.name if upload else "") or "")[:255],
        sha256=stored.sha256,
        size=stored.size,
        target=target,
        n_rows=len(frame),
        columns=[str(c) for c in frame.columns],
        created_by=actor,
    )


def trusted_type_allowlist() -> frozenset[str]:
    """The shipped reviewed allowlist plus what an admin configured; never from the file."""
    from releases.artifact_safety import DEFAULT_TRUSTED_TYPES

    return DEFAULT_TRUSTED_TYPES | settings.MODELGATE_EXTRA_TRUSTED_TYPES


def sandbox_limits() -> SandboxLimits:
    """The limits every sandboxed job on a user's model runs under (validation, the compiled
    check, SHAP reports, batch scoring), from MODELGATE_SANDBOX_*."""
    return SandboxLimits(
        memory_mb=settings.MODELGATE_SANDBOX_MEMORY_MB,
        cpu_seconds=settings.MODELGATE_SANDBOX_CPU_SECONDS,
        wall_seconds=settings.MODELGATE_SANDBOX_WALL_SECONDS,
    )


class UploadStaging:
    """The local copies and stored files of one upload, for `upload_staging`."""

    def __init__(self) -> None:
        self.temporary: list[str] = []
        self.stored: list[StoredFile] = []

    def local_path(self, upload: File) -> Path:
        """A path for the uploaded bytes: Django's temporary upload file, or a temp copy."""
        if hasattr(upload, "temporary_file_path"):
            return Path(upload.temporary_file_path())
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            self.temporary.append(tmp.name)
            upload.seek(0)
            shutil.copyfileobj(upload, tmp, 1 << 20)
        return Path(tmp.name)

    def store(self, *, path: Path, kind: str, extension: str) -> StoredFile:
        stored = store_content_addressed(path=path, kind=kind, extension=extension)
        self.stored.append(stored)
        return stored


@contextmanager
def upload_staging() -> Iterator[UploadStaging]:
    """Temp copies always go at the end; stored files go too when the block fails, so a refused
    or failed upload leaves no file behind."""
    staging = UploadStaging()
    try:
        yield staging
    except BaseException:
        for stored in staging.stored:
            discard_unreferenced(stored)
        raise
    finally:
        for name in staging.temporary:
            os.unlink(name)


def check_artifact(path: Path) -> tuple[str, list[str]]:
    """Fixed-cost and linear content checks, run in the web process before anything is stored.

    Sniffs the format by content; for ONNX, reads only the top-level opset imports (the graph
    is never parsed here); for skops, checks the zip structure and limits, caps schema.json's
    size, and scans it in linear time for the type names it needs (`scan_skops_schema`), never
    with skops itself. Returns (format, types needing a reviewer's trust). Raises a 4xx
    DomainError. Everything else (loading, policies, the ONNX graph) runs in the sandbox.
    """
    from releases.artifact_safety import (
        ALLOWED_ONNX_DOMAINS,
        SNIFF_BYTES,
        UnsafeArtifact,
        check_schema_size,
        check_zip,
        classify_untrusted,
        onnx_opset_domains,
        scan_skops_schema,
        sniff_format,
    )

    try:
        with path.open("rb") as fh:
            artifact_format = sniff_format(head=fh.read(SNIFF_BYTES))
            if artifact_format == "onnx":
                custom = sorted(onnx_opset_domains(fh) - ALLOWED_ONNX_DOMAINS)
                if custom:
                    raise UnsafeArtifact(
                        "onnx_custom_op",
                        "This model imports operators from "
                        + ", ".join(repr(d) for d in custom)
                        + ", which need custom code in the runtime. Only standard ONNX and "
                        "ONNX-ML operators are allowed: convert the model without custom "
                        "operators and upload it again.",
                    )
                return artifact_format, []
        max_schema_bytes = settings.MODELGATE_MAX_SCHEMA_BYTES
        # The schema cap comes first: it needs only the zip directory.
        check_schema_size(source=path, max_schema_bytes=max_schema_bytes)
        check_zip(
            path=path,
            max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
            max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
        )
        scan = scan_skops_schema(source=path, max_schema_bytes=max_schema_bytes)
        if not scan.root_is_object:
            raise UnsafeArtifact(
                "not_an_estimator",
                f"This file holds a {scan.root_type}, not a model: ModelGate needs a fitted "
                "scikit-learn estimator or pipeline at the top. Save the fitted model itself "
                "with `skops.io.dump(model, ...)` and upload that file.",
            )
    except UnsafeArtifact as exc:
        error_class: type[DomainError] = UnsafeArtifactRefused
        if exc.code in {"pickle_refused", "unknown_format"}:
            error_class = UnsupportedFormat
        elif exc.code == "schema_too_large":
            error_class = PayloadTooLarge
        raise error_class(exc.message, code=exc.code, field="artifact") from exc
    report = classify_untrusted(untrusted=scan.names, trusted=trusted_type_allowlist())
    if report.forbidden:
        raise UnsafeArtifactRefused(
            "This model refers to "
            + ", ".join(report.forbidden)
            + ", which can run arbitrary code or touch files, so ModelGate will never load it. "
            "Rebuild the model without it (for example without a FunctionTransformer wrapping "
            "that function), save it with skops.io.dump and upload it again.",
            code="forbidden_type",
            field="artifact",
            detail={"forbidden_types": list(report.forbidden)},
        )
    return artifact_format, list(report.needs_trust)


def read_evaluation(path: Path, target: str) -> pd.DataFrame:
    from releases.signature import InvalidEvaluationData, read_evaluation_csv

    try:
        return read_evaluation_csv(
            path_or_file=path, target=target, max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS
        )
    except InvalidEvaluationData as exc:
        raise InvalidInput(
            str(exc), code="invalid_evaluation_data", field="evaluation_data"
        ) from exc


def discard_unreferenced(stored: StoredFile) -> None:
    """Remove a file this failed upload stored, unless a committed row already shares the bytes.
    (An identical upload still in flight can lose its file; its own check then finds it gone.)"""
    if (
        ModelVersion.objects.filter(artifact=stored.name).exists()
        or EvaluationDataset.objects.filter(file=stored.name).exists()
    ):
        return
    discard(stored)
