"""Monitoring reads: drift of a window, hourly series, health of served models, alerts.

Everything here reads the hourly tables and the frozen references, never the raw log, except a
window of the last N predictions (bounded by ``MAX_WINDOW_ROWS``), which reads those rows by the
(version, created_at) index, and live accuracy over a window, which is
``scoring.selectors.labels.live_accuracy`` (one aggregate over the labels by the
(version, predicted_at) index): the one definition the model page, the version page, the
dashboard's headline and the accuracy alert share. The hourly label counts stay the series'
pre-aggregate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
from django.db import connection
from django.db.models import Q, Sum
from django.utils import timezone

from releases.errors import InvalidInput, NotFound
from releases.models import ModelVersion, RegisteredModel
from releases.selectors import (
    stages_of_model,
)
from scoring import drift
from scoring.log_reader import latest_columns
from scoring.models import (
    HourlyPredictions,
    HourlyRequests,
    MonitoringReference,
    MonitoringSettings,
)
from scoring.relabel_routing import low_confidence_threshold
from scoring.selectors.labels import LiveAccuracy, live_accuracy
from scoring.services.monitoring import (
    CONFIDENCE_BINS,
    LATENCY_EDGES_MS,
    hour_of,
    reference_features,
)

MAX_WINDOW_HOURS = 24 * 30
MAX_WINDOW_ROWS = 10_000
MIN_LABELS = 30
_WINDOW = re.compile(r"^(\d{1,6})(h?)$")


@dataclass(frozen=True)
class Window:
    """The last ``size`` hours (``"24h"``: the hourly rows that overlap them) or the last
    ``size`` predictions (``"500"``)."""

    size: int
    unit: str  # "hours" | "predictions"

    def __str__(self) -> str:
        return f"{self.size}h" if self.unit == "hours" else str(self.size)

    def start(self, now: datetime) -> datetime:
        return hour_of(now - timedelta(hours=self.size))


def window_parse(text: str | None, *, default: str = "24h") -> Window:
    """``1h``, ``24h`` (1 to 720 hours) or a number of predictions (1 to 10,000); a 400 naming
    ``window`` otherwise."""
    raw = (text or default).strip().lower()
    match = _WINDOW.match(raw)
    if match is not None:
        size, unit = int(match.group(1)), "hours" if match.group(2) else "predictions"
        limit = MAX_WINDOW_HOURS if unit == "hours" else MAX_WINDOW_ROWS
        if 1 <= size <= limit:
            return Window(size, unit)
    raise InvalidInput(
        f"window {text!r} is not a window: use 1h to {MAX_WINDOW_HOURS}h (hours), or a number "
        f"of predictions from 1 to {MAX_WINDOW_ROWS:,}.",
        field="window",
    )


def monitoring_settings_for(*, registered_model: RegisteredModel) -> MonitoringSettings:
    """The model's settings, or an unsaved row holding the defaults."""
    found = MonitoringSettings.objects.filter(registered_model=registered_model).first()
    return found or MonitoringSettings(registered_model=registered_model)


def low_confidence_of(chosen: MonitoringSettings) -> float:
    """The confidence below which monitoring counts a prediction as unsure: the settings' own
    figure, else the model's one threshold (the metrics counter's too)."""
    if chosen.low_confidence is not None:
        return chosen.low_confidence
    return low_confidence_threshold(chosen.registered_model_id)


def thresholds_for(*, registered_model: RegisteredModel) -> drift.Thresholds:
    chosen = monitoring_settings_for(registered_model=registered_model)
    return drift.Thresholds(
        numeric_test=chosen.numeric_test,
        categorical_test=chosen.categorical_test,
        drift_share=chosen.drift_share,
    )


def monitored_version(*, registered_model: RegisteredModel, number: Any = None) -> ModelVersion:
    """The version asked for, else production, else staging, else the newest version."""
    versions = ModelVersion.objects.filter(registered_model=registered_model).select_related(
        "registered_model"
    )
    if number not in (None, ""):
        try:
            wanted = int(str(number))
        except ValueError:
            raise InvalidInput(f"version {number!r} is not a number.", field="version") from None
        found = versions.filter(version=wanted).first()
        if found is None:
            raise NotFound(f"{registered_model.name} has no version {wanted}.", field="version")
        return found
    stages = stages_of_model(registered_model=registered_model)
    chosen = (
        stages.get("production") or stages.get("staging") or versions.order_by("-version").first()
    )
    if chosen is None:
        raise NotFound(f"{registered_model.name} has no versions yet.", field="version")
    return chosen


# --- Drift --------------------------------------------------------------------------------------


# Each hour's sample is stored shuffled, so a prefix of it is a uniform sample: read only what an
# hour can contribute to a merged sample of SAMPLE_SIZE (its share of the feature's values in the
# window, 1.3 times for the draw's spread, plus 65), not 16 KB per hour and feature.
_WINDOW_ROWS = f"""
    SELECT feature, rows, missing, out_of_range, unseen, total, total_sq,
           CAST(hist AS TEXT), CAST(categories AS TEXT),
           substr(sample, 1, 8 * CAST({1.3 * drift.SAMPLE_SIZE} * (rows - missing)
               / NULLIF(SUM(rows - missing) OVER (PARTITION BY feature), 0) + 65 AS INTEGER))
               AS head
    FROM scoring_hourlyfeature WHERE model_version_id = %s AND hour >= %s
"""  # noqa: S608 -- constants only; the values are parameters


@dataclass
class DriftReport:
    model_version: ModelVersion
    window: Window
    features: list[drift.FeatureDrift]
    drift_share: float
    dataset_drifted: bool
    reference_rows: int
    current_rows: int
    thresholds: drift.Thresholds
    has_reference: bool
    summaries: dict[str, drift.Summary] = field(default_factory=dict)
    references: dict[str, drift.Reference] = field(default_factory=dict)


def window_summaries(
    *, model_version: ModelVersion, window: Window, references: dict[str, drift.Reference],
    now: datetime,
) -> tuple[dict[str, drift.Summary], int]:  # fmt: skip
    """Per-feature summaries of the window and how many predictions it holds."""
    if window.unit == "predictions":
        features = [(name, ref.kind) for name, ref in references.items()]
        categories = {
            name: list(ref.categories) for name, ref in references.items() if ref.kind != "numeric"
        }
        columns = latest_columns(model_version, features, window.size, categories)
        summaries = {
            name: drift.summarize(ref, columns.features[name], sample_size=drift.SAMPLE_SIZE)
            for name, ref in references.items()
        }
        return summaries, columns.rows
    start = window.start(now)
    by_feature: dict[str, list[drift.Summary]] = {}
    with connection.cursor() as cursor:
        # A plain cursor: model instances and JSON converters cost more than the drift tests.
        since = connection.ops.adapt_datetimefield_value(start)
        cursor.execute(_WINDOW_ROWS, [model_version.pk, since])
        for (
            feature,
            rows,
            missing,
            out_of_range,
            unseen,
            total,
            total_sq,
            hist,
            cats,
            head,
        ) in cursor.fetchall():
            by_feature.setdefault(feature, []).append(
                drift.Summary(
                    rows=rows, missing=missing, out_of_range=out_of_range, unseen=unseen,
                    total=total, total_sq=total_sq,
                    hist=orjson.loads(hist) or [0] * (drift.BINS + 2),
                    categories=orjson.loads(cats),
                    sample=np.frombuffer(bytes(head or b""), dtype=np.float64),
                )
            )  # fmt: skip
    rng = np.random.default_rng(0)
    summaries = {name: drift.merge(by_feature.get(name, []), rng=rng) for name in references}
    current = HourlyPredictions.objects.filter(
        model_version=model_version, hour__gte=start
    ).values_list("rows", flat=True)
    return summaries, sum(current)


def drift_report(
    *, model_version: ModelVersion, window: Window, now: datetime | None = None
) -> DriftReport:
    now = now or timezone.now()
    model = model_version.registered_model
    thresholds = thresholds_for(registered_model=model)
    reference = MonitoringReference.objects.filter(model_version=model_version).first()
    references = reference_features(model_version) if reference else {}
    summaries, current_rows = window_summaries(
        model_version=model_version, window=window, references=references, now=now
    )
    results = [
        drift.feature_drift(ref, summaries[name], thresholds) for name, ref in references.items()
    ]
    share, drifted = drift.dataset_drift(results, thresholds)
    return DriftReport(
        model_version=model_version, window=window, features=results, drift_share=share,
        dataset_drifted=drifted, reference_rows=reference.rows if reference else 0,
        current_rows=current_rows, thresholds=thresholds,
        has_reference=bool(reference and references), summaries=summaries,
        references=references,
    )  # fmt: skip


def drift_rank(result: drift.FeatureDrift) -> tuple[int, float]:
    """Worst first: drifted before not, then by how far past the threshold."""
    if result.statistic is None or result.threshold is None:
        return (2, 0.0)
    if result.p_value is not None:
        badness = -math.log10(max(result.p_value, 1e-300)) + math.log10(result.threshold)
    else:
        badness = result.statistic / result.threshold if result.threshold else result.statistic
    return (0 if result.drifted else 1, -badness)


def feature_histogram(report: DriftReport, feature: str) -> dict[str, Any]:
    """Reference vs current distribution of one feature, as shares (for the chart)."""
    reference = report.references.get(feature)
    if reference is None:
        raise NotFound(
            f"The reference of this version has no feature {feature!r}.", field="feature"
        )
    current = report.summaries[feature]
    if reference.kind == "categorical":
        labels = sorted(set(reference.categories) | set(current.categories))
        ref_counts = [reference.categories.get(k, 0) for k in labels]
        cur_counts = [current.categories.get(k, 0) for k in labels]
    else:
        edges = reference.edges()
        labels = ["below"] + [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(drift.BINS)]
        labels.append("above")
        ref_counts, cur_counts = list(reference.hist), list(current.hist)
    ref_total, cur_total = sum(ref_counts) or 1, sum(cur_counts) or 1
    return {
        "feature": feature,
        "kind": reference.kind,
        "labels": labels,
        "reference": [c / ref_total for c in ref_counts],
        "current": [c / cur_total for c in cur_counts],
        "current_rows": current.present,
    }


# --- Prediction side ----------------------------------------------------------------------------


def _quantile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    target, seen = q * total, 0
    for i, count in enumerate(hist):
        seen += count
        if seen >= target:
            return float(LATENCY_EDGES_MS[i]) if i < len(LATENCY_EDGES_MS) else math.inf
    return None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def low_confidence_count(hist: list[int], threshold: float) -> int:
    return sum(hist[: round(threshold * CONFIDENCE_BINS)])


@dataclass
class PredictionStats:
    rows: int = 0
    latency_mean: float | None = None
    latency_p95: float | None = None
    low_confidence_rate: float | None = None
    confidence_rows: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    sampled: int = 0
    live_accuracy: float | None = None
    live_mae: float | None = None
    labeled: int = 0
    requests: int = 0  # predict/infer requests that reached the version, any status
    errors: int = 0  # of which answered 4xx or 5xx
    error_rate: float | None = None
    low_confidence_below: float = 0.0  # the threshold ``low_confidence_rate`` counted with
    # The window's figure from ``scoring.selectors.labels.live_accuracy``, the one definition
    # the model and version pages use too (``live_accuracy``/``live_mae``/``sampled`` above
    # are its unbiased estimate, so a headline and an alert never differ from those pages).
    live: LiveAccuracy | None = None


def _stats_of(
    rows: list[HourlyPredictions], low_confidence: float, classification: bool
) -> PredictionStats:
    out = PredictionStats()
    latency_hist = [0] * (len(LATENCY_EDGES_MS) + 1)
    confidence_hist = [0] * CONFIDENCE_BINS
    latency_sum = sampled_correct = 0.0
    abs_error = 0.0
    for row in rows:
        out.rows += row.rows
        latency_sum += row.latency_sum
        latency_hist = [
            a + b for a, b in zip(latency_hist, row.latency_hist or latency_hist, strict=False)
        ]
        confidence_hist = [
            a + b
            for a, b in zip(confidence_hist, row.confidence_hist or confidence_hist, strict=False)
        ]
        out.confidence_rows += row.confidence_rows
        for key, count in (row.classes or {}).items():
            out.classes[key] = out.classes.get(key, 0) + count
        out.sampled += row.sampled
        out.labeled += row.labeled
        sampled_correct += row.sampled_correct
        abs_error += row.sampled_abs_error_sum
    out.latency_mean = _rate(latency_sum, out.rows)  # type: ignore[arg-type]
    out.latency_p95 = _quantile(latency_hist, 0.95)
    out.low_confidence_below = low_confidence
    out.low_confidence_rate = _rate(
        low_confidence_count(confidence_hist, low_confidence), out.confidence_rows
    )
    if out.sampled:
        if classification:
            out.live_accuracy = sampled_correct / out.sampled
        else:
            out.live_mae = abs_error / out.sampled
    return out


def prediction_stats(
    *, model_version: ModelVersion, hours: int, now: datetime | None = None
) -> PredictionStats:
    now = now or timezone.now()
    chosen = monitoring_settings_for(registered_model=model_version.registered_model)
    start = hour_of(now - timedelta(hours=hours))
    rows = list(HourlyPredictions.objects.filter(model_version=model_version, hour__gte=start))
    classification = (model_version.signature or {}).get("task") == "classification"
    out = _stats_of(rows, low_confidence_of(chosen), classification)
    # Live accuracy over the window is read from the labels themselves, not summed from the
    # hourly rows: those are a pre-aggregate for the series, recounted on the job's lag.
    counts = request_counts(model_version=model_version, since=start)
    out.requests = sum(r for r, _ in counts.values())
    out.errors = sum(e for _, e in counts.values())
    out.error_rate = _rate(out.errors, out.requests)
    out.live = live_accuracy(model_version=model_version, since=start)
    estimate = out.live.unbiased
    out.sampled = estimate.count if estimate else 0
    out.live_accuracy = estimate.value if estimate and out.live.metric == "accuracy" else None
    out.live_mae = estimate.value if estimate and out.live.metric == "mae" else None
    return out


def request_counts(
    *, model_version: ModelVersion, since: datetime
) -> dict[datetime, tuple[int, int]]:
    """Per hour from ``since``: (requests, errors) that reached the version."""
    rows = (
        HourlyRequests.objects.filter(model_version=model_version, hour__gte=since)
        .values("hour")
        .annotate(requests=Sum("count"), errors=Sum("count", filter=Q(status__gte=400)))
        .order_by("hour")
    )
    return {row["hour"]: (row["requests"] or 0, row["errors"] or 0) for row in rows}


def hourly_series(
    *, model_version: ModelVersion, hours: int = 48, now: datetime | None = None
) -> dict[str, list[Any]]:
    """One point per hour with traffic, for the dashboard's time series (the drift share of
    each hour alone was computed when the hour was aggregated)."""
    now = now or timezone.now()
    start = hour_of(now - timedelta(hours=hours))
    chosen = monitoring_settings_for(registered_model=model_version.registered_model)
    classification = (model_version.signature or {}).get("task") == "classification"
    series: dict[str, list[Any]] = {
        k: [] for k in ("hour", "rows", "latency_mean", "latency_p95", "low_confidence_rate",
                        "drift_share", "live_accuracy", "live_mae", "sampled", "requests",
                        "error_rate")
    }  # fmt: skip
    below = low_confidence_of(chosen)
    counts = request_counts(model_version=model_version, since=start)
    hourly = {
        row.hour: row
        for row in HourlyPredictions.objects.filter(model_version=model_version, hour__gte=start)
    }
    # An hour whose every request failed logged no prediction: it still gets a point.
    for hour in sorted(hourly.keys() | counts.keys()):
        row = hourly.get(hour) or HourlyPredictions(model_version=model_version, hour=hour)
        stats = _stats_of([row], below, classification)
        requests, errors = counts.get(hour, (0, 0))
        series["requests"].append(requests)
        series["error_rate"].append(_rate(errors, requests))
        series["hour"].append(row.hour.isoformat())
        series["rows"].append(stats.rows)
        series["latency_mean"].append(stats.latency_mean)
        series["latency_p95"].append(stats.latency_p95 if stats.latency_p95 != math.inf else None)
        series["low_confidence_rate"].append(stats.low_confidence_rate)
        series["drift_share"].append(row.drift_share)
        series["live_accuracy"].append(stats.live_accuracy)
        series["live_mae"].append(stats.live_mae)
        series["sampled"].append(stats.sampled)
    return series
