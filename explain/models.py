"""Explainability tables: one SHAP report per validated version."""

from __future__ import annotations

from django.db import models

from releases.models import ModelVersion


class ShapReportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


FINISHED_STATUSES = frozenset({ShapReportStatus.DONE, ShapReportStatus.FAILED})

# The only moves a report's status may make. A failed or finished report may be run again
# (a retried task, or a version validated again) from pending.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    ShapReportStatus.PENDING: frozenset({ShapReportStatus.RUNNING, ShapReportStatus.FAILED}),
    ShapReportStatus.RUNNING: frozenset(
        {ShapReportStatus.DONE, ShapReportStatus.FAILED, ShapReportStatus.PENDING}
    ),
    ShapReportStatus.DONE: frozenset({ShapReportStatus.PENDING}),
    ShapReportStatus.FAILED: frozenset({ShapReportStatus.PENDING}),
}


class ShapReport(models.Model):
    """The SHAP report of one model version, stored as data: a JSON summary here (explainer and
    why, additivity, global importance, timings) and the per-row arrays in an .npz file through
    the storage API. Never images: pages render it. A failed report says why in ``error``; the
    version itself is unaffected."""

    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, related_name="shap_report"
    )
    status = models.CharField(
        max_length=10, choices=ShapReportStatus.choices, default=ShapReportStatus.PENDING
    )
    explainer = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    arrays = models.FileField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SHAP report of {self.model_version} ({self.status})"

    @property
    def importance(self) -> dict[str, float]:
        return dict((self.summary.get("importance") or {}).get("combined") or {})
