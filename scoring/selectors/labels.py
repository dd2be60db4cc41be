"""Live accuracy of a served version, from its ground truth, with a 95% confidence interval.

Two estimates, never mixed: the *unbiased* one from rows chosen at random (``sampled``: the
queue's random sample of confident predictions, and app feedback), and one from every labeled
row, marked biased: relabel queues favour low-confidence predictions, which the model gets
wrong more often, so that figure understates accuracy. One aggregate query computes both; the
intervals come from scipy (Wilson for a proportion, Student's t for a mean absolute error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q, StdDev

from releases.metric_direction import compare
from releases.models import ModelVersion, RegisteredModel, Stage
from releases.selectors import stages_of_model
from scoring.models import GroundTruth

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A metric over ``count`` labeled predictions with its 95% interval (None when too few
    labels to bound it)."""

    value: float
    low: float | None
    high: float | None
    count: int
    correct: int | None = None  # classifiers: how many of ``count`` the model got right


@dataclass(frozen=True)
class LiveAccuracy:
    """What the labels say about one version, beside what its validation said."""

    model_version_id: int
    version: int
    metric: str  # "accuracy" (classifiers) or "mae" (regressors)
    unbiased: Estimate | None  # sampled rows only
    all_labels: Estimate | None  # every labeled row (biased towards hard predictions)
    validation: float | None  # the same metric on the evaluation set, from the report

    @property
    def delta(self) -> float | None:
        if self.unbiased is None or self.validation is None:
            return None
        return self.unbiased.value - self.validation

    @property
    def verdict(self) -> str:
        """better / worse / same than validation, for the page's colours."""
        if self.delta is None or self.unbiased is None or self.validation is None:
            return "same"
        return compare(self.metric, self.unbiased.value, self.validation)

    @property
    def beyond_chance(self) -> bool:
        """Is the validation figure outside the live interval (a change, not noise)?"""
        e = self.unbiased
        if e is None or e.low is None or e.high is None or self.validation is None:
            return False
        return not e.low <= self.validation <= e.high

    def as_dict(self) -> dict[str, Any]:
        def part(e: Estimate | None) -> dict[str, Any] | None:
            if e is None:
                return None
            return {"value": e.value, "low": e.low, "high": e.high, "count": e.count,
                    "correct": e.correct}  # fmt: skip

        return {
            "version": self.version,
            "metric": self.metric,
            "unbiased": part(self.unbiased),
            "all_labels": part(self.all_labels),
            "validation": self.validation,
            "delta": self.delta,
            "verdict": self.verdict,
            "beyond_chance": self.beyond_chance,
        }


def live_accuracy(*, model_version: ModelVersion, since: datetime | None = None) -> LiveAccuracy:
    """Accuracy (classifiers) or MAE (regressors) of ``model_version`` on its labeled
    predictions made at or after ``since``; one aggregate query."""
    signature = model_version.signature or {}
    classifier = signature.get("task") != "regression"
    rows = GroundTruth.objects.filter(model_version=model_version)
    if since is not None:
        rows = rows.filter(predicted_at__gte=since)
    sampled = Q(sampled=True)
    if classifier:
        agg = rows.aggregate(
            n=Count("pk"),
            k=Count("pk", filter=Q(correct=True)),
            n_s=Count("pk", filter=sampled),
            k_s=Count("pk", filter=sampled & Q(correct=True)),
        )
        unbiased = proportion(agg["k_s"], agg["n_s"])
        everything = proportion(agg["k"], agg["n"])
    else:
        with_error = Q(abs_error__isnull=False)
        agg = rows.aggregate(
            n=Count("pk", filter=with_error),
            mae=Avg("abs_error"),
            sd=StdDev("abs_error", sample=True),
            n_s=Count("pk", filter=sampled & with_error),
            mae_s=Avg("abs_error", filter=sampled),
            sd_s=StdDev("abs_error", sample=True, filter=sampled),
        )
        unbiased = mean_error(agg["mae_s"], agg["sd_s"], agg["n_s"])
        everything = mean_error(agg["mae"], agg["sd"], agg["n"])
    metric = "accuracy" if classifier else "mae"
    return LiveAccuracy(
        model_version_id=model_version.pk,
        version=model_version.version,
        metric=metric,
        unbiased=unbiased,
        all_labels=everything,
        validation=validation_metric(model_version, metric),
    )


def proportion(k: int, n: int) -> Estimate | None:
    """k of n right, with the Wilson score interval (right at 0 and n, unlike the normal one)."""
    if not n:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Estimate(value=k / n, low=float(ci.low), high=float(ci.high), count=n, correct=k)


def mean_error(mean: float | None, sd: float | None, n: int) -> Estimate | None:
    """A mean absolute error with Student's t interval (no interval from a single label)."""
    if not n or mean is None:
        return None
    if n < 2 or sd is None:
        return Estimate(value=float(mean), low=None, high=None, count=n)
    from scipy.stats import t

    half = float(t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * float(sd) / math.sqrt(n)
    return Estimate(value=float(mean), low=max(0.0, mean - half), high=mean + half, count=n)


def validation_metric(model_version: ModelVersion, metric: str) -> float | None:
    report = model_version.validation_report or {}
    value = ((report.get("evaluation") or {}).get("metrics") or {}).get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def live_accuracy_served(
    *, registered_model: RegisteredModel, since: datetime | None = None
) -> list[tuple[str, LiveAccuracy]]:
    """Live accuracy of the versions serving production and staging (a query each)."""
    stages = stages_of_model(registered_model=registered_model)
    return [
        (stage, live_accuracy(model_version=stages[stage], since=since))
        for stage in (Stage.PRODUCTION, Stage.STAGING)
        if stage in stages
    ]
