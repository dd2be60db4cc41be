"""Registry tables: teams and roles, registered models, versions, evaluation sets, audit trail.

Statuses change only in ``releases.services``, inside a transaction holding the row lock.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
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


# A team rarely has more reviewers than this; a higher number would block every release.
MAX_REQUIRED_APPROVALS = 5


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
    gates = models.JSONField(
        default=dict,
        blank=True,
        help_text="Release gates checked on every validation (releases.gates).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    required_approvals = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_REQUIRED_APPROVALS)],
        help_text="Approvals from different reviewers a version needs to become approved.",
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
VALIDATION_STAGES = (
    "loading model",
    "reading signature",
    "evaluating",
    "computing slices",
    "comparing with production",
    "measuring latency",
    "done",
)

TERMINAL_STATUSES = frozenset({VersionStatus.REJECTED, VersionStatus.ARCHIVED})
SERVABLE_STATUSES = frozenset({VersionStatus.APPROVED})

# The only moves a version's status may make; services check it before every change.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # A pending version may be archived (e.g. one nobody will trust types for); a validating
    # one may not, since the worker holds it.
    VersionStatus.PENDING: frozenset(
        {VersionStatus.VALIDATING, VersionStatus.VALIDATION_FAILED, VersionStatus.ARCHIVED}
    ),
    VersionStatus.VALIDATING: frozenset(
        {VersionStatus.VALIDATED, VersionStatus.VALIDATION_FAILED, VersionStatus.PENDING}
    ),
    # Back to pending: a re-run of the validation (model_version_rerun_validation).
    VersionStatus.VALIDATED: frozenset(
        {
            VersionStatus.APPROVED,
            VersionStatus.REJECTED,
            VersionStatus.ARCHIVED,
            VersionStatus.PENDING,
        }
    ),
    VersionStatus.VALIDATION_FAILED: frozenset({VersionStatus.ARCHIVED, VersionStatus.PENDING}),
    # "Approved" means every required approval is in (RegisteredModel.required_approvals).
    VersionStatus.APPROVED: frozenset({VersionStatus.ARCHIVED}),
    VersionStatus.REJECTED: frozenset(),
    VersionStatus.ARCHIVED: frozenset(),
}


class ArtifactFormat(models.TextChoices):
    SKOPS = "skops", "skops"
    ONNX = "onnx", "ONNX"


class ServingRuntime(models.TextChoices):
    """What answers predictions: the compiled ONNX form only when validation proved it
    reproduces scikit-learn on the whole evaluation set."""

    ONNX = "onnx", "ONNX Runtime"
    SKLEARN = "sklearn", "scikit-learn"


class CompiledCheckStatus(models.TextChoices):
    """The compiled-form check, a job of its own queued when validation succeeds: until it
    passes, scikit-learn serves the version. "done" means the check ran to a verdict (which may
    be "scikit-learn serves it"); "failed" means the job itself could not finish."""

    NOT_CHECKED = "", "not checked"
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"


COMPILED_CHECK_TRANSITIONS: dict[str, frozenset[str]] = {
    # Every validation that succeeds queues a fresh check, whatever the last one did; a version
    # with nothing to check (an ONNX upload, no evaluation set) goes from queued to done at once.
    CompiledCheckStatus.NOT_CHECKED: frozenset({CompiledCheckStatus.QUEUED}),
    CompiledCheckStatus.QUEUED: frozenset(
        {
            CompiledCheckStatus.QUEUED,
            CompiledCheckStatus.RUNNING,
            CompiledCheckStatus.DONE,
            CompiledCheckStatus.FAILED,
        }
    ),
    CompiledCheckStatus.RUNNING: frozenset(
        {CompiledCheckStatus.DONE, CompiledCheckStatus.FAILED, CompiledCheckStatus.QUEUED}
    ),
    CompiledCheckStatus.DONE: frozenset({CompiledCheckStatus.QUEUED}),
    CompiledCheckStatus.FAILED: frozenset({CompiledCheckStatus.QUEUED}),
}


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
    serving_runtime = models.CharField(
        max_length=10, choices=ServingRuntime.choices, default=ServingRuntime.SKLEARN
    )
    onnx_artifact = models.FileField(
        max_length=300, blank=True, help_text="The compiled form, content-addressed."
    )
    onnx_sha256 = models.CharField(max_length=64, blank=True)
    compiled_check = models.CharField(
        max_length=10,
        choices=CompiledCheckStatus.choices,
        default=CompiledCheckStatus.NOT_CHECKED,
        blank=True,
        help_text="The ONNX equivalence check's job, queued after validation succeeds.",
    )
    compiled_evidence = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the equivalence check found: rows, agreement, differences, time.",
    )
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


class ReviewDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Review(models.Model):
    """One reviewer's decision on one version, bound to the artifact bytes they looked at.

    A version becomes approved once ``required_approvals`` different reviewers (never its
    uploader) approved it; one rejection rejects it. Rows are written only by
    ``releases.services.review``.
    """

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    artifact_sha256 = models.CharField(
        max_length=64, help_text="What the stored file hashed to when the reviewer decided."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            # One decision per reviewer: N approvals always come from N different people.
            models.UniqueConstraint(
                fields=["model_version", "reviewer"], name="review_one_per_reviewer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision}s {self.model_version}"


class Stage(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class StageAssignment(models.Model):
    """Which version holds a stage of a model now: at most one per (model, stage), enforced by
    the database. Changed only by ``releases.services.review``, which writes a StageEvent too."""

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="stage_assignments"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.RESTRICT, related_name="stage_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["registered_model", "stage"]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "stage"], name="stage_one_version_per_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name} {self.stage}: v{self.model_version.version}"


class StageEventKind(models.TextChoices):
    PROMOTE = "promote", "Promote"
    ROLLBACK = "rollback", "Rollback"
    ARCHIVE = "archive", "Archive"
    OVERRIDE = "override", "Override"


class StageEvent(models.Model):
    """One change of the version holding a stage: the stage's history, oldest first.

    Versions in the history (or holding a stage) cannot be deleted on their own (RESTRICT);
    deleting the whole model takes its history with it."""

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="stage_events"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    kind = models.CharField(max_length=10, choices=StageEventKind.choices)
    from_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    to_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.RESTRICT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(blank=True)
    override_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.registered_model.name} {self.stage} {self.kind}"


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


# Audit actions that are announced to webhooks, and the event name each becomes.
WEBHOOK_EVENT_FOR_ACTION: dict[str, str] = {
    "version.upload": "version.created",
    "version.validated": "version.validated",
    "version.validation_failed": "version.validation_failed",
    "version.approve": "version.approved",
    "version.reject": "version.rejected",
    "version.promote": "version.promoted",
    "model.rollback": "model.rolled_back",
    "version.archive": "version.archived",
    # Raised and cleared by scoring's monitoring job (scoring.services.alerts).
    "monitoring.alert_open": "model.alert",
    "monitoring.alert_resolve": "model.alert_resolved",
}
WEBHOOK_EVENTS: tuple[str, ...] = tuple(WEBHOOK_EVENT_FOR_ACTION.values())


class Webhook(models.Model):
    """A URL told about a model's release events, by signed JSON POSTs.

    The signing secret is shown once, at creation; ``secret_encrypted`` keeps it encrypted with a
    key derived from SECRET_KEY (the server must sign with it, so it cannot be a hash).
    """

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list, help_text="Event names; all of WEBHOOK_EVENTS.")
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registered_model", "-created_at"]

    def __str__(self) -> str:
        return f"{self.registered_model.name} → {self.url}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent to one webhook, with every attempt (status code, duration, error)."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    audit_event = models.ForeignKey(
        AuditEvent, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    event = models.CharField(max_length=60)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → webhook {self.webhook_id}: {self.status}"
