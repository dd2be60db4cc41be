"""Registry tables: teams and roles, registered models, versions, evaluation sets, audit trail.

Statuses change only in ``releases.services``, inside a transaction holding the row lock.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from knox.models import AbstractAuthToken


class Role(models.TextChoices):
    DATA_SCIENTIST = "data_scientist", "Data scientist"
    REVIEWER = "reviewer", "Reviewer"
    LABELER = "labeler", "Labeler"
    ADMIN = "admin", "Admin"


slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,62}$",
    "Use 1–63 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)


class Team(models.Model):
    """A group of people that owns registered models; everything is visible per team."""

    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one team. A person may hold different roles in different teams."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team", "role"], name="membership_unique_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.team}"


class RegisteredModel(models.Model):
    """A named model owned by a team; its versions are the releasable units."""

    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="registered_models")
    description = models.CharField(max_length=500, blank=True)
    model_card = models.TextField(blank=True, help_text="Markdown, rendered sanitized.")
    evaluation_dataset = models.ForeignKey(
        "EvaluationDataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The standing evaluation set every new version is measured on.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EvaluationDataset(models.Model):
    """A CSV with a target column, stored content-addressed; versions are compared on it."""

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="evaluation_datasets"
    )
    file = models.FileField(max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    target = models.CharField(max_length=255)
    n_rows = models.PositiveIntegerField()
    columns = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.registered_model} evaluation set {self.sha256[:12]}"


class Tag(models.Model):
    """A free label on versions (``candidate``, ``q3-retrain``), for filtering."""

    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VALIDATING = "validating", "Validating"
    VALIDATED = "validated", "Validated"
    VALIDATION_FAILED = "validation_failed", "Validation failed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ARCHIVED = "archived", "Archived"


# What the worker reports while validating (validation_report["stage"]), in order.
VALIDATION_STAGES = ("loading model", "reading signature", "evaluating", "done")

TERMINAL_STATUSES = frozenset({VersionStatus.REJECTED, VersionStatus.ARCHIVED})
SERVABLE_STATUSES = frozenset({VersionStatus.APPROVED})

# The only moves a version's status may make; services check it before every change.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    VersionStatus.PENDING: frozenset({VersionStatus.VALIDATING, VersionStatus.VALIDATION_FAILED}),
    VersionStatus.VALIDATING: frozenset(
        {VersionStatus.VALIDATED, VersionStatus.VALIDATION_FAILED, VersionStatus.PENDING}
    ),
    VersionStatus.VALIDATED: frozenset(
        {VersionStatus.APPROVED, VersionStatus.REJECTED, VersionStatus.ARCHIVED}
    ),
    VersionStatus.VALIDATION_FAILED: frozenset({VersionStatus.ARCHIVED}),
    VersionStatus.APPROVED: frozenset({VersionStatus.ARCHIVED}),
    VersionStatus.REJECTED: frozenset(),
    VersionStatus.ARCHIVED: frozenset(),
}


class ArtifactFormat(models.TextChoices):
    SKOPS = "skops", "skops"
    ONNX = "onnx", "ONNX"


class ModelVersion(models.Model):
    """One immutable upload of a registered model: artifact, signature and validation outcome."""

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=VersionStatus.choices, default=VersionStatus.PENDING
    )
    artifact = models.FileField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    format = models.CharField(max_length=10, choices=ArtifactFormat.choices)
    library_versions = models.JSONField(default=dict, blank=True)
    estimator_class = models.CharField(max_length=300, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    signature = models.JSONField(null=True, blank=True)
    signature_diff = models.JSONField(
        null=True, blank=True, help_text="Changes against the version in production, if any."
    )
    untrusted_types = models.JSONField(
        default=list, blank=True, help_text="Types skops reports that the allowlist lacks."
    )
    trusted_types = models.JSONField(
        default=list, blank=True, help_text="Types a reviewer trusted for this version only."
    )
    validation_error = models.TextField(blank=True)
    validation_report = models.JSONField(default=dict, blank=True)
    validation_task_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="Celery task id of the current validation attempt; only it may restart.",
    )
    evaluation_dataset = models.ForeignKey(
        EvaluationDataset, null=True, blank=True, on_delete=models.PROTECT, related_name="versions"
    )
    notes = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="versions")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registered_model", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "version"], name="version_unique_per_model"
            )
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.version}"

    @property
    def pending_trust(self) -> list[str]:
        """Untrusted types nobody has vouched for yet: neither a reviewer for this version nor
        an admin for every model (MODELGATE_EXTRA_TRUSTED_TYPES, which may grow later)."""
        vouched = set(self.trusted_types) | settings.MODELGATE_EXTRA_TRUSTED_TYPES
        return sorted(set(self.untrusted_types) - vouched)


class AuditEvent(models.Model):
    """An append-only record of one action. Database triggers refuse UPDATE and DELETE."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=60, db_index=True)
    team = models.ForeignKey(Team, null=True, on_delete=models.PROTECT, related_name="+")
    registered_model = models.ForeignKey(
        RegisteredModel,
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="audit_events",
        db_constraint=False,
    )
    model_version = models.ForeignKey(
        ModelVersion,
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="audit_events",
        db_constraint=False,
    )
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class ApiToken(AbstractAuthToken):
    """A person's API key (``Authorization: Token <key>``), managed by django-rest-knox.

    Only the key's SHA-512 digest is stored, with its first 15 characters (``token_key``, e.g.
    ``mg_1a2b3c4d5e6f``) to find the row and to recognise a leaked key; the key itself is shown
    once, when it is issued. Rows are written only by ``releases.services.people``.
    """

    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="Recorded at most once a minute."
    )

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.token_key}… ({self.user})"
