"""Every write in explain: the SHAP report's status moves, each with an audit row."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from explain.models import ALLOWED_TRANSITIONS, ShapReport, ShapReportStatus
from releases.models import ModelVersion, VersionStatus
from releases.services import audit_record

# Versions whose model may be explained: validated, and what a validated version may become
# while keeping its model (approved; a rejected one still shows what it learned).
EXPLAINABLE = frozenset({VersionStatus.VALIDATED, VersionStatus.APPROVED, VersionStatus.REJECTED})


def _move(report: ShapReport, to: str) -> None:
    if to not in ALLOWED_TRANSITIONS[report.status]:
        raise ValueError(f"SHAP report is {report.status}; it cannot become {to}.")
    report.status = to


@transaction.atomic
def shap_report_start(*, version_id: int) -> ShapReport | None:
    """Create or reset the version's report and mark it running. None when there is nothing to
    do: the version is gone or not validated, or its report is already done or running (a
    redelivered task is harmless)."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.status not in EXPLAINABLE:
        return None
    report, created = ShapReport.objects.select_for_update().get_or_create(model_version=version)
    if not created and report.status in {ShapReportStatus.DONE, ShapReportStatus.RUNNING}:
        return None
    if report.status == ShapReportStatus.FAILED:
        _move(report, ShapReportStatus.PENDING)
    _move(report, ShapReportStatus.RUNNING)
    report.started_at = timezone.now()
    report.error = ""
    report.save()
    audit_record(actor=None, action="shap_report.started", model_version=version)
    return report


@transaction.atomic
def shap_report_finish(
    *, version_id: int, summary: dict[str, Any], arrays: dict[str, np.ndarray], seconds: float
) -> ShapReport | None:
    """running -> done, with the summary row and the arrays stored as an .npz."""
    report = ShapReport.objects.select_for_update().filter(model_version_id=version_id).first()
    if report is None or report.status != ShapReportStatus.RUNNING:
        return report
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    name = f"shap/{sha[:2]}/{sha}.npz"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data, name=name))
    _move(report, ShapReportStatus.DONE)
    summary = {**summary, "timings": {**summary.get("timings", {}), "job_seconds": seconds}}
    report.summary = summary
    report.explainer = str(summary.get("explainer", ""))[:20]
    report.reason = str(summary.get("reason", ""))
    report.arrays.name = name
    report.finished_at = timezone.now()
    report.save()
    audit_record(
        actor=None,
        action="shap_report.done",
        model_version=report.model_version,
        payload={
            "explainer": report.explainer,
            "additivity_ok": bool((summary.get("additivity") or {}).get("ok")),
            "rows": summary.get("rows_explained"),
        },
    )
    return report


@transaction.atomic
def shap_report_fail(*, version_id: int, error: str) -> ShapReport | None:
    """pending or running -> failed, with a sentence saying why. The version is untouched."""
    report = ShapReport.objects.select_for_update().filter(model_version_id=version_id).first()
    if report is None or report.status not in {
        ShapReportStatus.PENDING,
        ShapReportStatus.RUNNING,
    }:
        return report
    _move(report, ShapReportStatus.FAILED)
    report.error = error
    report.finished_at = timezone.now()
    report.save()
    audit_record(
        actor=None,
        action="shap_report.failed",
        model_version=report.model_version,
        payload={"error": error[:500]},
    )
    return report


def shap_report_enqueue(*, version_id: int) -> None:
    """Queue the report job once the current transaction commits (called when validation
    succeeds). The version never waits for it."""
    from explain.tasks import shap_report_run

    transaction.on_commit(lambda: shap_report_run.delay(version_id=version_id))
