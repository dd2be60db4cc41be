"""Monitoring tables: the frozen reference of each served version, hourly summaries of the
prediction log (so pages never scan the log), per-model thresholds and the alerts they raise."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from releases.models import ModelVersion, RegisteredModel

_unit = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class MonitoringSettings(models.Model):
    """A model's monitoring thresholds; a model without a row uses the field defaults.

    Changed only by ``scoring.services.monitoring_settings_update`` (audited). The drift test
    defaults are Evidently's (``scoring.drift.Thresholds``); the alert defaults are a starting
    point that a team tunes once it knows its traffic.
    """

    class NumericTest(models.TextChoices):
        AUTO = "auto", "KS (small reference) / Wasserstein (large)"
        KS = "ks", "Kolmogorov-Smirnov"
        WASSERSTEIN = "wasserstein", "normalised Wasserstein"
        PSI = "psi", "population stability index"

    class CategoricalTest(models.TextChoices):
        AUTO = "auto", "chi-square (small reference) / Jensen-Shannon (large)"
        CHISQUARE = "chisquare", "chi-square"
        JENSENSHANNON = "jensenshannon", "Jensen-Shannon"

    registered_model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="monitoring_settings"
    )
    numeric_test = models.CharField(
        max_length=12, choices=NumericTest.choices, default=NumericTest.AUTO
    )
    categorical_test = models.CharField(
        max_length=14, choices=CategoricalTest.choices, default=CategoricalTest.AUTO
    )
    drift_share = models.FloatField(
        default=0.5, validators=_unit, help_text="Alert when this share of features drifts."
    )
    missing_rate = models.FloatField(
        default=0.1, validators=_unit, help_text="Alert when a feature is missing this often."
    )
    # Null (the default): the model's one low-confidence threshold, which the metrics use too
    # (scoring.relabel_routing.low_confidence_threshold); a number overrides it for monitoring.
    low_confidence = models.FloatField(
        null=True,
        blank=True,
        default=None,
        validators=_unit,
        help_text="A prediction below this confidence is unsure. Blank: the relabel policy's "
        "threshold when it ranks by least confidence, else MODELGATE_LOW_CONFIDENCE_THRESHOLD.",
    )
    low_confidence_rate = models.FloatField(
        default=0.3, validators=_unit, help_text="Alert when this share of predictions is unsure."
    )
    max_error_rate = models.FloatField(
        default=0.05,
        validators=_unit,
        help_text="Alert when this share of requests to the version fails (4xx or 5xx).",
    )
    min_accuracy = models.FloatField(
        default=0.8,
        validators=_unit,
        help_text="Alert when live accuracy (sampled labels) falls below this.",
    )
    window_hours = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
        help_text="Alerts look at the last this many hours.",
    )
    min_rows = models.PositiveIntegerField(
        default=100, help_text="Fewer predictions than this in the window: no alert."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"monitoring settings of {self.registered_model}"


class MonitoringReference(models.Model):
    """What a version's inputs looked like before serving: frozen once, from its evaluation
    data, by the monitoring job (``rows == 0`` when the version has no evaluation data)."""

    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, related_name="monitoring_reference"
    )
    rows = models.PositiveIntegerField()
    source = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"reference of v{self.model_version_id} ({self.rows} rows)"


class ReferenceFeature(models.Model):
    """One feature of a reference: ``scoring.drift.Reference`` stats as JSON, its sample as
    float64 bytes (numpy reads them without parsing)."""

    reference = models.ForeignKey(
        MonitoringReference, on_delete=models.CASCADE, related_name="features"
    )
    position = models.PositiveIntegerField()
    feature = models.CharField(max_length=255)
    kind = models.CharField(max_length=12)
    stats = models.JSONField()
    sample = models.BinaryField()

    class Meta:
        ordering = ["reference", "position"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "feature"], name="reference_feature_once")
        ]

    def __str__(self) -> str:
        return f"{self.feature} of {self.reference}"


class MonitoringCursor(models.Model):
    """How far the prediction log (by ``created_at``) and the labels (by ``labeled_at``) of a
    version are aggregated. Its row lock keeps two monitoring runs from counting twice."""

    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    aggregated_until = models.DateTimeField()
    labels_until = models.DateTimeField(null=True, blank=True)
    # What the last run saw over the model's alert window (rows, drift share, dataset drifted,
    # low-confidence rate, live accuracy), so the overview reads one row per served version.
    health = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"v{self.model_version_id} aggregated until {self.aggregated_until:%Y-%m-%d %H:%M}"


class HourlyPredictions(models.Model):
    """The prediction side of one version in one hour: traffic, latency, confidence, classes,
    and live accuracy from ``GroundTruth`` (by prediction time; recomputed as labels arrive)."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="+"
    )
    hour = models.DateTimeField()
    rows = models.PositiveIntegerField(default=0)
    latency_sum = models.FloatField(default=0.0)
    latency_hist = models.JSONField(default=list)  # counts over LATENCY_EDGES_MS
    confidence_rows = models.PositiveIntegerField(default=0)
    confidence_hist = models.JSONField(default=list)  # 100 bins over [0, 1]
    classes = models.JSONField(default=dict)  # class -> count (classifiers)
    prediction_sum = models.FloatField(default=0.0)  # regressors
    prediction_sum_sq = models.FloatField(default=0.0)
    labeled = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    sampled = models.PositiveIntegerField(default=0)
    sampled_correct = models.PositiveIntegerField(default=0)
    sampled_abs_error_sum = models.FloatField(default=0.0)
    # Share of features drifted in this hour alone (the dashboard's series), kept with the row.
    drift_share = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["model_version", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "hour"], name="hourly_predictions_once"
            )
        ]
        indexes = [models.Index(fields=["registered_model", "hour"], name="hourly_pred_model")]

    def __str__(self) -> str:
        return f"v{self.model_version_id} {self.hour:%Y-%m-%d %H}h: {self.rows} predictions"


class HourlyRequests(models.Model):
    """Predict and infer requests that reached a version in one hour, by HTTP status: the
    denominator and numerator of the error rate (a refused request logs no prediction, so the
    log alone cannot say how often a version fails its callers).

    Counted in each serving process and added here by the prediction log's flusher (an upsert
    that increments, so processes never overwrite each other); one row per (version, hour,
    status), so the table stays as small as the hourly ones.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="+"
    )
    hour = models.DateTimeField()
    status = models.PositiveSmallIntegerField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["model_version", "hour", "status"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "hour", "status"], name="hourly_requests_once"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.model_version_id} {self.hour:%Y-%m-%d %H}h: {self.count} x {self.status}"


class HourlyFeature(models.Model):
    """One feature of one version in one hour: ``scoring.drift.Summary`` as columns."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    feature = models.CharField(max_length=255)
    rows = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    out_of_range = models.PositiveIntegerField(default=0)
    unseen = models.PositiveIntegerField(default=0)
    total = models.FloatField(default=0.0)
    total_sq = models.FloatField(default=0.0)
    hist = models.JSONField(default=list)
    categories = models.JSONField(default=dict)
    sample = models.BinaryField(default=b"")

    class Meta:
        ordering = ["model_version", "hour", "feature"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "hour", "feature"], name="hourly_feature_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.feature} of v{self.model_version_id} at {self.hour:%Y-%m-%d %H}h"


class AlertKind(models.TextChoices):
    DRIFT = "drift", "data drift"
    MISSING = "missing", "missing values"
    LOW_CONFIDENCE = "low_confidence", "low confidence"
    ACCURACY = "accuracy", "live accuracy"
    ERROR_RATE = "error_rate", "error rate"


class AlertStatus(models.TextChoices):
    OPEN = "open", "open"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


ALERT_ACTIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
ALERT_TRANSITIONS: dict[str, set[str]] = {
    AlertStatus.OPEN: {AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED},
    AlertStatus.ACKNOWLEDGED: {AlertStatus.RESOLVED},
    AlertStatus.RESOLVED: set(),
}


class Alert(models.Model):
    """A monitored condition that crossed its threshold: one row per ongoing condition.

    Open until a person acknowledges it or the condition clears (resolved, by the monitoring
    job); while it is open or acknowledged the same condition raises nothing new, which the
    partial unique constraint guarantees. Status changes only in ``scoring.services.alerts``.
    """

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="alerts"
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    feature = models.CharField(max_length=255, blank=True)
    value = models.FloatField()
    threshold = models.FloatField()
    message = models.CharField(max_length=500)
    status = models.CharField(max_length=14, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "kind", "feature"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="alert_one_per_ongoing_condition",
            )
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="alert_status_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} alert on {self.registered_model_id}: {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ALERT_ACTIVE
