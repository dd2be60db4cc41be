"""Batch scoring jobs: a CSV or Parquet file scored in a worker, with progress and a result."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from releases.models import ModelVersion, RegisteredModel
from scoring.models.serving import AppToken


class BatchJobStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


BATCH_TERMINAL = frozenset({BatchJobStatus.SUCCEEDED, BatchJobStatus.FAILED})
BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    BatchJobStatus.QUEUED: frozenset({BatchJobStatus.RUNNING, BatchJobStatus.FAILED}),
    # Back to queued when the worker running it died and the broker delivers it again.
    BatchJobStatus.RUNNING: frozenset(
        {BatchJobStatus.SUCCEEDED, BatchJobStatus.FAILED, BatchJobStatus.QUEUED}
    ),
    BatchJobStatus.SUCCEEDED: frozenset(),
    BatchJobStatus.FAILED: frozenset(),
}


class BatchFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"


class BatchJob(models.Model):
    """One uploaded file scored by one approved version, off the request path.

    The result file (the input columns, the prediction, a probability per class and the
    confidence; same format as the input) is the record of these predictions: they are not
    copied into the prediction log, which records live traffic (a million-row file would swamp
    the monitoring and relabeling samples drawn from it).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="batch_jobs"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="batch_jobs"
    )
    stage = models.CharField(max_length=20, blank=True, help_text="The stage asked for, if any.")
    status = models.CharField(
        max_length=10, choices=BatchJobStatus.choices, default=BatchJobStatus.QUEUED
    )
    input_format = models.CharField(max_length=10, choices=BatchFormat.choices)
    input_file = models.FileField(max_length=300)
    input_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file's name.")
    input_bytes = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    rows_failed = models.BigIntegerField(
        default=0, help_text="Rows set aside for a bad value (listed in the errors file)."
    )
    result_file = models.FileField(max_length=300, blank=True)
    errors_file = models.FileField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    caller = models.CharField(max_length=40, help_text='"user:<id>" or "app:<id>".')
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    app_token = models.ForeignKey(
        AppToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_jobs"
    )
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When its task was last queued (the sweeper's clock)."
    )
    sweeps = models.PositiveIntegerField(
        default=0, help_text="Times the sweeper queued it again after its task was lost."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the retention sweep deleted its input, result and errors files.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["registered_model", "-created_at"]),
            # The retention sweep's scan: finished jobs still holding files, oldest first.
            models.Index(
                fields=["finished_at"],
                condition=models.Q(files_deleted_at__isnull=True, finished_at__isnull=False),
                name="batch_files_kept_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"batch job {self.pk} ({self.status})"

    @property
    def progress(self) -> float | None:
        """Share of rows scored, 0..1; None before the rows are counted."""
        if not self.rows_total:
            return 1.0 if self.status == BatchJobStatus.SUCCEEDED else None
        return min(1.0, self.rows_done / self.rows_total)

    @property
    def files_expired(self) -> bool:
        """Its files were deleted after the retention period; the row (and audit) stays."""
        return self.files_deleted_at is not None

    @property
    def files_expire_at(self) -> datetime | None:
        """When the retention sweep will delete the finished job's files; None if it never will
        (still running, already expired, or MODELGATE_BATCH_RETENTION_DAYS=0)."""
        days = settings.MODELGATE_BATCH_RETENTION_DAYS
        if self.files_expired or self.finished_at is None or not days:
            return None
        return self.finished_at + timedelta(days=days)

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
