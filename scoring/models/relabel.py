"""Relabel queues: which logged predictions a person should label, who holds which item, and
the labels they gave.

Routing (``scoring.relabel_routing``, run by the prediction-log flusher) turns a policy and the
stored probabilities into items; the services in ``scoring.services.relabel`` lease items to
labelers, record labels and settle items into ``GroundTruth``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from releases.models import ModelVersion, RegisteredModel
from scoring.models.serving import Prediction


class RelabelStrategy(models.TextChoices):
    """How unsure a classifier was, each read as a certainty in [0, 1] compared with the
    policy's threshold: least confidence is the top probability, margin the gap between the two
    top probabilities, entropy one minus the normalised entropy of the probabilities."""

    LEAST_CONFIDENCE = "least_confidence", "least confidence (top probability)"
    MARGIN = "margin", "margin (top two probabilities)"
    ENTROPY = "entropy", "entropy (normalised)"


class RegressionRule(models.TextChoices):
    SAMPLE = "sample", "random sample only"
    OUTSIDE_RANGE = "outside_range", "prediction outside a range, plus the random sample"


class RelabelPolicy(models.Model):
    """A model's routing rules: which of its logged predictions enter its relabel queue.

    A model without a row routes with the defaults (least confidence below 0.6, a 2% random
    sample of the rest, one label per item); only ``relabel_policy_update`` writes this table,
    with an audit row. ``lease_seconds`` null means ``MODELGATE_RELABEL_LEASE_SECONDS``.
    """

    registered_model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="relabel_policy"
    )
    enabled = models.BooleanField(default=True)
    strategy = models.CharField(
        max_length=20, choices=RelabelStrategy.choices, default=RelabelStrategy.LEAST_CONFIDENCE
    )
    threshold = models.FloatField(default=0.6)
    sample_rate = models.FloatField(default=0.02)
    regression_rule = models.CharField(
        max_length=20, choices=RegressionRule.choices, default=RegressionRule.SAMPLE
    )
    regression_min = models.FloatField(null=True, blank=True)
    regression_max = models.FloatField(null=True, blank=True)
    labels_per_item = models.PositiveSmallIntegerField(default=1)
    skips_to_close = models.PositiveSmallIntegerField(
        default=3,
        help_text="Labelers passing on an item (skipped or unsure) before it leaves the queue "
        "for a reviewer; it leaves sooner when every labeler of the team has answered it.",
    )
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip

    def __str__(self) -> str:
        return f"relabel policy of {self.registered_model_id}"


class RelabelReason(models.TextChoices):
    UNCERTAIN = "uncertain", "uncertain"
    SAMPLE = "sample", "random sample"


class RelabelStatus(models.TextChoices):
    OPEN = "open", "open"
    LABELED = "labeled", "labeled"
    DISPUTED = "disputed", "disputed"
    SETTLED = "settled", "settled by a reviewer"
    # The app that made the prediction reported its outcome (scoring.services.feedback): the
    # truth is known, so nobody labels the item any more.
    ANSWERED = "answered", "answered by app feedback"
    # Enough labelers passed on it (skipped or unsure), or nobody left on the team may still
    # label it: it leaves the open queue and waits for a reviewer, like a disputed item.
    UNRESOLVED = "unresolved", "unresolved (labelers passed)"

    @classmethod
    def done(cls) -> frozenset[str]:
        return frozenset({cls.LABELED, cls.SETTLED, cls.ANSWERED})

    @classmethod
    def to_settle(cls) -> frozenset[str]:
        """Waiting for a reviewer's label: the labelers disagreed, or passed."""
        return frozenset({cls.DISPUTED, cls.UNRESOLVED})


RELABEL_TRANSITIONS: dict[str, frozenset[str]] = {
    RelabelStatus.OPEN: frozenset(
        {
            RelabelStatus.LABELED,
            RelabelStatus.DISPUTED,
            RelabelStatus.ANSWERED,
            RelabelStatus.UNRESOLVED,
        }
    ),
    RelabelStatus.DISPUTED: frozenset({RelabelStatus.SETTLED, RelabelStatus.ANSWERED}),
    RelabelStatus.UNRESOLVED: frozenset({RelabelStatus.SETTLED, RelabelStatus.ANSWERED}),
    RelabelStatus.LABELED: frozenset(),
    RelabelStatus.SETTLED: frozenset(),
    RelabelStatus.ANSWERED: frozenset(),
}


class RelabelItem(models.Model):
    """One routed prediction waiting for (or holding) its labels, tied to the exact version
    that made it.

    A labeler leases an open item for a while (``lease_holder`` until ``lease_expires_at``); an
    expired lease is free again without any sweeper. ``labels_needed`` is copied from the policy
    when the item is routed, so changing the policy later does not change what an item needs.
    The leasing query reads the partial index of open items, oldest first.
    """

    id = models.BigAutoField(primary_key=True)
    prediction = models.OneToOneField(
        Prediction, on_delete=models.CASCADE, related_name="relabel_item"
    )
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="relabel_items"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="relabel_items"
    )
    reason = models.CharField(max_length=10, choices=RelabelReason.choices)
    uncertainty = models.FloatField(null=True, blank=True)
    labels_needed = models.PositiveSmallIntegerField(default=1)
    label_count = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=RelabelStatus.choices, default=RelabelStatus.OPEN
    )
    lease_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_constraint=False,
    )  # fmt: skip
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The leasing query walks this in order. Ordered by time rather than by id alone:
            # on id, PostgreSQL prefers the primary key and filters past every done item.
            models.Index(
                fields=["registered_model", "created_at", "id"],
                name="relabel_open_queue",
                condition=Q(status="open"),
            ),
            models.Index(fields=["registered_model", "status"], name="relabel_model_status"),
            models.Index(fields=["lease_holder", "lease_expires_at"], name="relabel_lease"),
        ]

    def __str__(self) -> str:
        return f"relabel item {self.pk} ({self.status})"


class RelabelLabel(models.Model):
    """What one labeler said about one item: a label, or that they skipped it or were unsure.

    One row per item and labeler: nobody labels an item twice, and a skipped item is never
    offered to the same labeler again. Skips and unsures count towards the policy's
    ``skips_to_close``.
    """

    class Kind(models.TextChoices):
        LABEL = "label", "label"
        SKIP = "skip", "skipped"
        UNSURE = "unsure", "unsure"

    item = models.ForeignKey(RelabelItem, on_delete=models.CASCADE, related_name="labels")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LABEL)
    label = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "labeler"], name="relabel_label_once")
        ]
        indexes = [models.Index(fields=["labeler", "created_at"], name="relabel_label_by")]

    def __str__(self) -> str:
        return f"{self.kind} {self.label!r} on item {self.item_id}"
