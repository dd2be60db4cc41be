"""The sweeper: no version waits forever for a validation job that was lost.

A job can vanish without any code of ours running: the broker was down when the upload tried to
queue it, the filesystem broker lost the message with a killed worker, or a worker died and its
message waits out the visibility timeout. ``model_versions_sweep_stuck`` (run every few minutes by
Celery beat, task ``releases.sweep_stuck_validations``) finds versions idle in ``pending`` (not
awaiting trust) or ``validating`` for longer than ``MODELGATE_SWEEP_AFTER_SECONDS`` and queues
them again, with an audit row for each; a version reset ``MODELGATE_VALIDATION_MAX_RESETS``
times ends ``validation_failed`` with the reason instead of looping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from releases.models import AuditEvent, ModelVersion, VersionStatus
from releases.services.audit import audit_record
from releases.services.lifecycle import (
    RESET_ACTIONS,
    _fail_too_many_resets,
    enqueue_validation,
    validation_resets,
)
from releases.services.registry import _transition

logger = logging.getLogger(__name__)

# What restarts a version's clock: a status change, or an attempt that began or was re-queued.
_ACTIVITY_ACTIONS = ("version.validation_started", "version.trust_types", *RESET_ACTIONS)


@dataclass
class SweepResult:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def stuck_versions(*, cutoff: datetime) -> QuerySet[ModelVersion]:
    """Versions in pending or validating with nothing happening to them since ``cutoff``."""
    latest_event = (
        AuditEvent.objects.filter(model_version=OuterRef("pk"), action__in=_ACTIVITY_ACTIONS)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return (
        ModelVersion.objects.filter(status__in=[VersionStatus.PENDING, VersionStatus.VALIDATING])
        .annotate(
            last_activity=Greatest(
                "status_changed_at",
                # Greatest is NULL on SQLite when any argument is: fall back to the status time.
                Coalesce(Subquery(latest_event, output_field=DateTimeField()), "status_changed_at"),
            )
        )
        .filter(last_activity__lt=cutoff)
    )


def model_versions_sweep_stuck(
    *, after_seconds: int | None = None, max_resets: int | None = None
) -> SweepResult:
    """Re-queue (or, past the bound, fail) every stuck version; one transaction per version."""
    after = settings.MODELGATE_SWEEP_AFTER_SECONDS if after_seconds is None else after_seconds
    cutoff = timezone.now() - timedelta(seconds=after)
    bound = settings.MODELGATE_VALIDATION_MAX_RESETS if max_resets is None else max_resets
    result = SweepResult()
    for version_id in list(stuck_versions(cutoff=cutoff).values_list("pk", flat=True)):
        outcome = _sweep_one(version_id=version_id, cutoff=cutoff, max_resets=bound)
        if outcome == "requeued":
            result.requeued.append(version_id)
        elif outcome == "failed":
            result.failed.append(version_id)
    if result.requeued or result.failed:
        logger.warning(
            "sweeper: re-queued versions %s, failed versions %s", result.requeued, result.failed
        )
    return result


@transaction.atomic
def _sweep_one(*, version_id: int, cutoff: datetime, max_resets: int) -> str:
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    # Checked again under the lock: the job may have started or finished since the scan.
    if version is None or not stuck_versions(cutoff=cutoff).filter(pk=version_id).exists():
        return "skipped"
    if version.status == VersionStatus.PENDING and version.pending_trust:
        return "skipped"  # waiting for a reviewer, not for a worker
    attempts = validation_resets(version) + 1
    if attempts > max_resets:
        _fail_too_many_resets(version, attempts)
        return "failed"
    was = version.status
    idle = (timezone.now() - version.status_changed_at).total_seconds()
    stage = (version.validation_report or {}).get("stage", "")
    if was == VersionStatus.VALIDATING:
        _transition(version, VersionStatus.PENDING)
        version.validation_report = {}
        version.save(update_fields=["status", "status_changed_at", "validation_report"])
    audit_record(
        actor=None,
        action="version.validation_swept",
        model_version=version,
        payload={
            "from": was,
            "stage": stage,
            "idle_seconds": round(idle),
            "attempt": attempts,
            "max_resets": max_resets,
        },
    )
    transaction.on_commit(lambda: enqueue_validation(version_id=version_id))
    return "requeued"
