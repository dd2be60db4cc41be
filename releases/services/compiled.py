"""The compiled-form (ONNX) check's status moves: queued when validation succeeds, run by its own
task in the sandbox, and the serving runtime switched to ONNX Runtime only when it passes.

Until then scikit-learn serves the version. The switch writes a ``version.serving_runtime``
audit row, one of the serving actions (``releases.serving_state``), so every serving process
drops its cached model within a refresh interval and loads the compiled form.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction

from releases.models import (
    COMPILED_CHECK_TRANSITIONS,
    CompiledCheckStatus,
    ModelVersion,
    ServingRuntime,
    VersionStatus,
)
from releases.services.audit import audit_record

logger = logging.getLogger(__name__)

# A compiled form matters for versions that are or may become served.
CHECKABLE = frozenset({VersionStatus.VALIDATED, VersionStatus.APPROVED})


def _move(version: ModelVersion, to: str) -> None:
    if to not in COMPILED_CHECK_TRANSITIONS[version.compiled_check]:
        raise ValueError(
            f"The compiled check of version {version.version} is "
            f"{version.compiled_check or 'not checked'}; it cannot become {to}."
        )
    version.compiled_check = to


def _not_checked(reason: str) -> dict[str, Any]:
    return {
        "runtime": ServingRuntime.SKLEARN.value,
        "reason": reason,
        "rows_checked": 0,
        "label_agreement": None,
        "max_proba_diff": None,
        "seconds": 0.0,
    }


def compiled_check_queue(version: ModelVersion) -> None:
    """Called by validation's finish (which holds the version's row lock): scikit-learn serves
    the version from now on, and a fresh check is queued after the commit, unless there is
    nothing to check (then the verdict is recorded at once)."""
    version.serving_runtime = ServingRuntime.SKLEARN
    version.onnx_artifact.name = ""
    version.onnx_sha256 = ""
    _move(version, CompiledCheckStatus.QUEUED)
    version.compiled_evidence = {}
    reason = ""
    if version.format != "skops":
        reason = "The model was uploaded as ONNX; ONNX Runtime serves it as uploaded."
    elif version.evaluation_dataset_id is None:
        reason = (
            "No evaluation set to prove an ONNX form reproduces the model, so scikit-learn "
            "serves it. Upload one with the next version to allow compiled inference."
        )
    if reason:
        _move(version, CompiledCheckStatus.DONE)
        version.compiled_evidence = _not_checked(reason)
        return
    version_id = version.pk
    transaction.on_commit(lambda: _enqueue(version_id))


def _enqueue(version_id: int) -> None:
    from releases.tasks import compiled_check_run

    try:
        compiled_check_run.delay(version_id=version_id)
    except Exception:  # broker unreachable: the version keeps serving with scikit-learn
        logger.exception("could not queue the compiled check of version %s", version_id)


@transaction.atomic
def compiled_check_start(*, version_id: int, task_id: str = "") -> ModelVersion | None:
    """queued → running. None when there is nothing to do (gone, no longer servable, or the
    check already done or running under another task: a duplicate is harmless). The same task
    delivered again (its worker died mid-check, acks_late) starts over."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.status not in CHECKABLE:
        return None
    if (
        version.compiled_check == CompiledCheckStatus.RUNNING
        and task_id
        and version.compiled_evidence.get("task_id") == task_id
    ):
        _move(version, CompiledCheckStatus.QUEUED)
    if version.compiled_check != CompiledCheckStatus.QUEUED:
        return None
    _move(version, CompiledCheckStatus.RUNNING)
    version.compiled_evidence = {"task_id": task_id}  # replaced by the verdict
    version.save(update_fields=["compiled_check", "compiled_evidence"])
    audit_record(actor=None, action="version.compiled_check_started", model_version=version)
    return version


@transaction.atomic
def compiled_check_finish(
    *, version_id: int, evidence: dict[str, Any], onnx: bytes | None, seconds: float
) -> ModelVersion | None:
    """running → done with the evidence; the compiled form (stored content-addressed) serves
    the version when the check proved it reproduces scikit-learn."""
    from releases.artifact_store import store_bytes_content_addressed

    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.compiled_check != CompiledCheckStatus.RUNNING:
        return version  # a new validation re-queued it meanwhile: this verdict is stale
    if version.status not in CHECKABLE:
        return version
    evidence = {**evidence, "job_seconds": round(seconds, 3)}
    if onnx and evidence.get("runtime") == ServingRuntime.ONNX:
        stored = store_bytes_content_addressed(data=onnx, kind="artifacts", extension="onnx")
        version.onnx_artifact.name = stored.name
        version.onnx_sha256 = stored.sha256
        version.serving_runtime = ServingRuntime.ONNX
    else:
        if evidence.get("runtime") == ServingRuntime.ONNX:  # evidence without the bytes
            evidence.update(
                runtime=ServingRuntime.SKLEARN.value, reason="The compiled form was lost."
            )
        version.onnx_artifact.name = ""
        version.onnx_sha256 = ""
        version.serving_runtime = ServingRuntime.SKLEARN
    _move(version, CompiledCheckStatus.DONE)
    version.compiled_evidence = evidence
    version.save(
        update_fields=[
            "compiled_check", "compiled_evidence", "serving_runtime", "onnx_artifact",
            "onnx_sha256",
        ]
    )  # fmt: skip
    # A serving action: processes serving this version drop their cache and load the new form.
    audit_record(
        actor=None,
        action="version.serving_runtime",
        model_version=version,
        payload={
            "runtime": version.serving_runtime,
            "rows_checked": evidence.get("rows_checked"),
            "label_agreement": evidence.get("label_agreement"),
            "max_proba_diff": evidence.get("max_proba_diff"),
            "onnx_sha256": version.onnx_sha256,
        },
    )
    return version


@transaction.atomic
def compiled_check_fail(*, version_id: int, error: str) -> ModelVersion | None:
    """queued or running → failed with a sentence; scikit-learn keeps serving the version."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.compiled_check not in {
        CompiledCheckStatus.QUEUED,
        CompiledCheckStatus.RUNNING,
    }:
        return version
    _move(version, CompiledCheckStatus.FAILED)
    version.compiled_evidence = _not_checked(f"{error} It is served with scikit-learn.")
    version.save(update_fields=["compiled_check", "compiled_evidence"])
    audit_record(
        actor=None,
        action="version.compiled_check_failed",
        model_version=version,
        payload={"error": error[:500]},
    )
    return version


SWEPT_ACTION = "version.compiled_check_swept"
# What restarts a check's clock: the validation that queued it, a start, an earlier sweep.
_ACTIVITY_ACTIONS = ("version.validated", "version.compiled_check_started", SWEPT_ACTION)


def compiled_checks_sweep_stuck(*, after_seconds: int, max_resets: int) -> list[int]:
    """Queue again every compiled check idle in queued or running for ``after_seconds`` (its
    message was lost: broker down at validation, worker killed); past ``max_resets`` sweeps it
    fails with the reason and scikit-learn keeps serving. Returns the versions swept."""
    from django.db.models import DateTimeField, OuterRef, Subquery
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    from releases.models import AuditEvent

    cutoff = timezone.now() - timedelta(seconds=after_seconds)
    latest = (
        AuditEvent.objects.filter(model_version=OuterRef("pk"), action__in=_ACTIVITY_ACTIONS)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    stuck = (
        ModelVersion.objects.filter(
            status__in=CHECKABLE,
            compiled_check__in=[CompiledCheckStatus.QUEUED, CompiledCheckStatus.RUNNING],
        )
        .annotate(
            last_activity=Coalesce(
                Subquery(latest, output_field=DateTimeField()), "status_changed_at"
            )
        )
        .filter(last_activity__lt=cutoff)
    )
    swept = []
    for version_id in list(stuck.values_list("pk", flat=True)):
        if _sweep_one(version_id=version_id, stuck=stuck, max_resets=max_resets):
            swept.append(version_id)
    return swept


@transaction.atomic
def _sweep_one(*, version_id: int, stuck: Any, max_resets: int) -> bool:
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    # Checked again under the lock: the check may have started or finished since the scan.
    if version is None or not stuck.filter(pk=version_id).exists():
        return False
    from releases.models import AuditEvent

    attempts = AuditEvent.objects.filter(model_version=version, action=SWEPT_ACTION).count() + 1
    if attempts > max_resets:
        _move(version, CompiledCheckStatus.FAILED)
        version.compiled_evidence = _not_checked(
            f"The compiled-form check was started {attempts} times and never finished. It is "
            "served with scikit-learn."
        )
        version.save(update_fields=["compiled_check", "compiled_evidence"])
        audit_record(
            actor=None,
            action="version.compiled_check_failed",
            model_version=version,
            payload={"error": "never finished", "attempts": attempts},
        )
        return True
    _move(version, CompiledCheckStatus.QUEUED)
    version.compiled_evidence = {}
    version.save(update_fields=["compiled_check", "compiled_evidence"])
    audit_record(
        actor=None, action=SWEPT_ACTION, model_version=version, payload={"attempt": attempts}
    )
    transaction.on_commit(lambda: _enqueue(version_id))
    return True
