"""The monitoring job's writes: freeze references, aggregate the prediction log and the labels
into hourly tables, incrementally.

Run every minute by Celery beat (``scoring.monitor``). Per version, a cursor row says how far
the log is aggregated (keyset by ``created_at``); each step takes the log up to the end of the
cursor's hour, merges it into that hour's rows and moves the cursor, in one transaction under
the cursor's row lock, so two runs never count a row twice and a crash loses nothing. Rows newer
than ``MODELGATE_MONITORING_LAG_SECONDS`` wait for the next run: the prediction log writes in
the background, a little after ``created_at``. How the log is read (in bounded blocks, in SQL
on PostgreSQL): ``scoring.log_reader``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import orjson
import pandas as pd
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from releases.models import ModelVersion, StageAssignment
from releases.services.audit import audit_record
from scoring import drift
from scoring.log_reader import LogColumns, log_blocks
from scoring.models import (
    GroundTruth,
    HourlyFeature,
    HourlyPredictions,
    MonitoringCursor,
    MonitoringReference,
    Prediction,
    ReferenceFeature,
)

__all__ = ["LogColumns", "hour_of", "reference_features", "summary_of", "version_aggregate"]

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# Latency buckets (ms): <=1, <=2, ... <=5000, more.
LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
CONFIDENCE_BINS = 100
REFERENCE_MAX_ROWS = 200_000


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# --- References ---------------------------------------------------------------------------------


def _features(version: ModelVersion) -> list[tuple[str, str]]:
    signature = version.signature or {}
    return [(str(f["name"]), str(f.get("type", "numeric"))) for f in signature.get("features", [])]


def _reference_frame(version: ModelVersion) -> tuple[pd.DataFrame | None, str]:
    dataset = version.evaluation_dataset or version.registered_model.evaluation_dataset
    if dataset is None:
        return None, ""
    try:
        with default_storage.open(str(dataset.file.name), "rb") as handle:
            frame = pd.read_csv(handle, encoding="utf-8-sig", nrows=REFERENCE_MAX_ROWS)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        logger.warning("reference of version %s unreadable: %r", version.pk, exc)
        return None, ""
    return frame.drop(columns=[dataset.target], errors="ignore"), f"evaluation set {dataset.pk}"


def reference_freeze(*, model_version: ModelVersion) -> MonitoringReference:
    """Freeze the version's reference from its evaluation data (idempotent: a version keeps
    its first reference). A version without evaluation data gets an empty one, which says so."""
    existing = MonitoringReference.objects.filter(model_version=model_version).first()
    if existing is not None:
        return existing
    frame, source = _reference_frame(model_version)
    references = []
    if frame is not None:
        for name, kind in _features(model_version):
            if name in frame.columns:
                values = frame[name].to_numpy()
                references.append(drift.reference_feature(name=name, kind=kind, values=values))
    with transaction.atomic():
        reference, created = MonitoringReference.objects.get_or_create(
            model_version=model_version,
            defaults={"rows": 0 if frame is None else len(frame), "source": source},
        )
        if not created:
            return reference
        ReferenceFeature.objects.bulk_create(
            ReferenceFeature(
                reference=reference, position=i, feature=ref.name, kind=ref.kind,
                stats=ref.stats(), sample=ref.sample.astype(np.float64).tobytes(),
            )
            for i, ref in enumerate(references)
        )  # fmt: skip
        audit_record(
            actor=None,
            action="monitoring.reference_frozen",
            model_version=model_version,
            payload={"rows": reference.rows, "source": source, "features": len(references)},
        )
    return reference


def references_freeze_for_served() -> int:
    """Freeze a reference for every version that holds a stage and lacks one (releases never
    imports scoring, so promotion cannot do it; the job does, within a minute)."""
    missing = (
        StageAssignment.objects.filter(model_version__monitoring_reference__isnull=True)
        .select_related("model_version__registered_model", "model_version__evaluation_dataset")
        .order_by("pk")
    )
    count = 0
    for assignment in missing:
        reference_freeze(model_version=assignment.model_version)
        count += 1
    return count


def reference_features(model_version: ModelVersion) -> dict[str, drift.Reference]:
    rows = ReferenceFeature.objects.filter(reference__model_version=model_version)
    return {
        r.feature: drift.Reference.from_stats(r.feature, r.kind, r.stats, bytes(r.sample))
        for r in rows
    }


# --- Hourly rows --------------------------------------------------------------------------------


def summary_of(row: HourlyFeature, sample: bytes | None = None) -> drift.Summary:
    """The row as a summary; ``sample`` replaces its stored sample (e.g. a prefix of it)."""
    return drift.Summary(
        rows=row.rows, missing=row.missing, out_of_range=row.out_of_range, unseen=row.unseen,
        total=row.total, total_sq=row.total_sq, hist=list(row.hist) or [0] * (drift.BINS + 2),
        categories=dict(row.categories),
        sample=np.frombuffer(bytes(row.sample if sample is None else sample), dtype=np.float64),
    )  # fmt: skip


def _store_summary(row: HourlyFeature, summary: drift.Summary, rng: np.random.Generator) -> None:
    row.rows, row.missing = summary.rows, summary.missing
    row.out_of_range, row.unseen = summary.out_of_range, summary.unseen
    row.total, row.total_sq = summary.total, summary.total_sq
    row.hist, row.categories = summary.hist, summary.categories
    # Stored shuffled, so that any prefix is itself a uniform sample: a long window reads only
    # the prefix each hour contributes (scoring.selectors.monitoring.window_summaries).
    row.sample = rng.permutation(summary.sample.astype(np.float64)).tobytes()


def _add_counts(old: list[int], new: np.ndarray) -> list[int]:
    base = np.zeros(len(new), dtype=np.int64)
    if old:
        base += np.asarray(old, dtype=np.int64)
    return [int(c) for c in base + new]


def _merge_predictions(row: HourlyPredictions, columns: LogColumns, classification: bool) -> None:
    row.rows += columns.rows
    latency = columns.latency[~np.isnan(columns.latency)]
    row.latency_sum += float(latency.sum())
    buckets = np.searchsorted(np.asarray(LATENCY_EDGES_MS, dtype=np.float64), latency, "left")
    row.latency_hist = _add_counts(
        row.latency_hist, np.bincount(buckets, minlength=len(LATENCY_EDGES_MS) + 1)
    )
    confidence = columns.confidence[~np.isnan(columns.confidence)]
    row.confidence_rows += len(confidence)
    bins = np.clip(np.floor(confidence * CONFIDENCE_BINS), 0, CONFIDENCE_BINS - 1).astype(int)
    row.confidence_hist = _add_counts(
        row.confidence_hist, np.bincount(bins, minlength=CONFIDENCE_BINS)
    )
    texts = pd.Series(columns.predictions, dtype=object).value_counts()
    if classification:
        classes = dict(row.classes)
        for text, count in texts.items():
            key = drift.category_key(orjson.loads(str(text))) or "null"
            classes[key] = classes.get(key, 0) + int(count)
        row.classes = classes
    else:
        for text, count in texts.items():
            value = orjson.loads(str(text))
            if isinstance(value, int | float) and not isinstance(value, bool):
                row.prediction_sum += float(value) * int(count)
                row.prediction_sum_sq += float(value) ** 2 * int(count)


def _hour_drift_share(
    version: ModelVersion, references: dict[str, drift.Reference], rows: list[HourlyFeature]
) -> float | None:
    from scoring.selectors.monitoring import thresholds_for

    thresholds = thresholds_for(registered_model=version.registered_model)
    results = [
        drift.feature_drift(references[row.feature], summary_of(row), thresholds)
        for row in rows
        if row.feature in references
    ]
    return drift.dataset_drift(results, thresholds)[0] if results else None


def _aggregate_range(
    version: ModelVersion,
    references: dict[str, drift.Reference],
    start: datetime,
    end: datetime,
) -> int:
    """Merge the log in [start, end), within one hour, into that hour's rows."""
    hour = hour_of(start)
    features = [(name, ref.kind) for name, ref in references.items()]
    classification = (version.signature or {}).get("task") == "classification"
    prediction_row = HourlyPredictions.objects.filter(model_version=version, hour=hour).first()
    if prediction_row is None:
        prediction_row = HourlyPredictions(
            model_version=version, registered_model_id=version.registered_model_id, hour=hour
        )
    rng = np.random.default_rng(int(start.timestamp()))
    partial: dict[str, list[drift.Summary]] = {name: [] for name in references}
    total = 0
    categories = {
        name: list(ref.categories) for name, ref in references.items() if ref.kind != "numeric"
    }
    for columns in log_blocks(version, features, start, end, categories):
        total += columns.rows
        _merge_predictions(prediction_row, columns, classification)
        for name, reference in references.items():
            partial[name].append(drift.summarize(reference, columns.features[name], rng=rng))
    if not total:
        return 0
    existing = {
        row.feature: row for row in HourlyFeature.objects.filter(model_version=version, hour=hour)
    }
    changed, created = [], []
    for name, summaries in partial.items():
        row = existing.get(name)
        if row is None:
            row = HourlyFeature(model_version=version, hour=hour, feature=name)
            created.append(row)
        else:
            summaries = [summary_of(row), *summaries]
            changed.append(row)
        merged = drift.merge(summaries, rng=rng, sample_size=drift.HOURLY_SAMPLE_SIZE)
        _store_summary(row, merged, rng)
    HourlyFeature.objects.bulk_create(created)
    HourlyFeature.objects.bulk_update(
        changed,
        ["rows", "missing", "out_of_range", "unseen", "total", "total_sq", "hist", "categories",
         "sample"],
    )  # fmt: skip
    prediction_row.drift_share = _hour_drift_share(version, references, [*changed, *created])
    prediction_row.save()
    return total


def _first_cursor(version: ModelVersion, now: datetime) -> datetime:
    backfill = now - timedelta(hours=settings.MODELGATE_MONITORING_BACKFILL_HOURS)
    first = Prediction.objects.filter(model_version=version, created_at__gte=backfill).aggregate(
        first=Min("created_at")
    )["first"]
    return hour_of(first) if first else hour_of(now)


def version_aggregate(
    *, model_version: ModelVersion, until: datetime, max_seconds: float | None = None
) -> int:
    """Aggregate the version's log up to ``until`` into hourly rows; the number of rows read.
    Another run holding the version's cursor makes this one skip it."""
    started = timezone.now()
    references = reference_features(model_version)
    total = 0
    MonitoringCursor.objects.get_or_create(
        model_version=model_version,
        defaults={"aggregated_until": _first_cursor(model_version, until)},
    )
    while True:
        with transaction.atomic():
            cursor = (
                MonitoringCursor.objects.select_for_update(skip_locked=True)
                .filter(model_version=model_version)
                .first()
            )
            if cursor is None or cursor.aggregated_until >= until:
                return total
            start = cursor.aggregated_until
            end = min(hour_of(start) + HOUR, until)
            # Compare-and-set before the work: SQLite has no row locks, but this UPDATE takes
            # its write lock, so a concurrent run waits here and then finds the cursor moved.
            moved = MonitoringCursor.objects.filter(pk=cursor.pk, aggregated_until=start).update(
                aggregated_until=end
            )
            if not moved:
                return total
            total += _aggregate_range(model_version, references, start, end)
        if max_seconds is not None and (timezone.now() - started).total_seconds() > max_seconds:
            return total


def labels_aggregate(*, model_version: ModelVersion, until: datetime) -> int:
    """Recount live accuracy for every hour (by prediction time) that got labels since the
    last run; the number of hours recounted."""
    with transaction.atomic():
        cursor = (
            MonitoringCursor.objects.select_for_update(skip_locked=True)
            .filter(model_version=model_version)
            .first()
        )
        if cursor is None:
            return 0
        since = cursor.labels_until
        new = GroundTruth.objects.filter(
            registered_model_id=model_version.registered_model_id,
            model_version=model_version,
            labeled_at__lt=until,
        )
        if since is not None:
            new = new.filter(labeled_at__gte=since)
        hours = set(
            new.annotate(h=TruncHour("predicted_at")).values_list("h", flat=True).distinct()
        )
        for hour in hours:
            found = GroundTruth.objects.filter(
                model_version=model_version, predicted_at__gte=hour, predicted_at__lt=hour + HOUR
            ).aggregate(
                n_labeled=Count("pk"),
                n_correct=Count("pk", filter=Q(correct=True)),
                n_sampled=Count("pk", filter=Q(sampled=True)),
                n_sampled_correct=Count("pk", filter=Q(sampled=True, correct=True)),
                abs_error=Sum("abs_error", filter=Q(sampled=True)),
            )
            counts = {
                "labeled": found["n_labeled"],
                "correct": found["n_correct"],
                "sampled": found["n_sampled"],
                "sampled_correct": found["n_sampled_correct"],
                "sampled_abs_error_sum": found["abs_error"] or 0.0,
            }
            HourlyPredictions.objects.update_or_create(
                model_version=model_version,
                hour=hour,
                defaults=counts,
                create_defaults={
                    **counts,
                    "registered_model_id": model_version.registered_model_id,
                },
            )
        cursor.labels_until = until
        cursor.save(update_fields=["labels_until"])
    return len(hours)


def versions_to_monitor(*, now: datetime) -> list[ModelVersion]:
    """Versions with a stage, or with predictions since the backfill horizon (an index probe
    per version, never a scan of the log)."""
    since = now - timedelta(hours=settings.MODELGATE_MONITORING_BACKFILL_HOURS)
    recent = Prediction.objects.filter(model_version=OuterRef("pk"), created_at__gte=since)
    return list(
        ModelVersion.objects.filter(Q(stage_assignments__isnull=False) | Exists(recent))
        .select_related("registered_model", "evaluation_dataset")
        .distinct()
        .order_by("pk")
    )


@dataclass
class MonitorRun:
    references: int = 0
    rows: int = 0
    label_hours: int = 0
    resolved: int = 0  # alerts of versions no longer watched
    versions: list[int] = field(default_factory=list)


def monitor_run(*, now: datetime | None = None) -> MonitorRun:
    """One pass of the monitoring job: references, log, labels, then alerts."""
    from scoring.services.alerts import alerts_evaluate, alerts_resolve_unmonitored

    now = now or timezone.now()
    until = now - timedelta(seconds=settings.MODELGATE_MONITORING_LAG_SECONDS)
    run = MonitorRun(references=references_freeze_for_served())
    for version in versions_to_monitor(now=now):
        if not MonitoringReference.objects.filter(model_version=version).exists():
            run.references += 1
            reference_freeze(model_version=version)
        run.rows += version_aggregate(model_version=version, until=until)
        run.label_hours += labels_aggregate(model_version=version, until=until)
        alerts_evaluate(model_version=version, now=now)
        run.versions.append(version.pk)
    run.resolved = alerts_resolve_unmonitored(monitored=run.versions, now=now)
    return run
