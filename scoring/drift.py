"""Drift and data quality of served inputs against a reference, without Django.

A **reference** is frozen per model version from its evaluation data (``reference_feature``):
counts, range, mean / std, a fixed histogram (``BINS`` equal-width bins between the reference
minimum and maximum, plus one bin below and one above) and a bounded uniform sample of the
values. A **summary** (``summarize``) holds the same quantities for a stretch of logged inputs;
summaries of hours merge (``merge``) so a window of any length is read from hourly rows, never
from the raw log.

Drift tests follow Evidently's default algorithm (its DataDriftPreset, documented at
docs.evidentlyai.com "data drift algorithm"), computed with scipy so they equal scipy's own:

==============  =========================  ====================================  =========
feature         reference rows             test                                  drifted if
==============  =========================  ====================================  =========
numeric         <= 1000                    ``scipy.stats.ks_2samp``               p < 0.05
numeric         > 1000                     ``scipy.stats.wasserstein_distance``   >= 0.1
                                           divided by the reference std
                                           (ddof 0, at least 0.001)
numeric         option ``psi``             PSI on the reference bins              >= 0.1
categorical     <= 1000                    ``scipy.stats.chisquare`` of current   p < 0.05
                                           counts vs reference proportions
categorical     > 1000                     ``scipy.spatial.distance.jensenshannon``  >= 0.1
==============  =========================  ====================================  =========

The dataset drifts when at least half the features do (``drift_share`` 0.5). Numeric tests use
the samples: the whole data while it fits ``SAMPLE_SIZE`` (so the statistic is scipy's on the
same rows), a uniform sample of it beyond. Categorical tests use exact counts; values the
reference never saw are pooled into one ``UNSEEN`` category.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

BINS = 20
# Values kept per reference feature and per hourly summary: KS / Wasserstein on more than this
# gains little power and costs memory on every page.
SAMPLE_SIZE = 5000
HOURLY_SAMPLE_SIZE = 2000
MAX_CATEGORIES = 1000
UNSEEN = "(unseen)"
NUMERIC_TESTS = ("auto", "ks", "wasserstein", "psi")
CATEGORICAL_TESTS = ("auto", "chisquare", "jensenshannon")


@dataclass(frozen=True)
class Thresholds:
    """Drift thresholds; the defaults are Evidently's."""

    small_reference_rows: int = 1000
    ks_p_value: float = 0.05
    wasserstein: float = 0.1
    psi: float = 0.1
    chisquare_p_value: float = 0.05
    jensenshannon: float = 0.1
    drift_share: float = 0.5
    numeric_test: str = "auto"
    categorical_test: str = "auto"


@dataclass
class Reference:
    """The frozen reference of one feature."""

    name: str
    kind: str  # "numeric" | "categorical"
    rows: int
    missing: int
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    hist: list[int] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))

    def stats(self) -> dict[str, Any]:
        """Everything but the sample, as JSON."""
        return {
            "rows": self.rows, "missing": self.missing, "minimum": self.minimum,
            "maximum": self.maximum, "mean": self.mean, "std": self.std, "hist": self.hist,
            "categories": self.categories,
        }  # fmt: skip

    @classmethod
    def from_stats(cls, name: str, kind: str, data: dict[str, Any], sample: bytes) -> Reference:
        return cls(name=name, kind=kind, **data, sample=np.frombuffer(sample, dtype=np.float64))

    def edges(self) -> np.ndarray:
        assert self.minimum is not None and self.maximum is not None
        return np.linspace(self.minimum, self.maximum, BINS + 1)


@dataclass
class Summary:
    """Inputs of one feature over a stretch of the log (an hour, a window): mergeable."""

    rows: int = 0
    missing: int = 0
    out_of_range: int = 0
    unseen: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * (BINS + 2))
    categories: dict[str, int] = field(default_factory=dict)
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def mean(self) -> float | None:
        return self.total / self.present if self.present else None

    def std(self) -> float | None:
        if not self.present:
            return None
        mean = self.total / self.present
        return math.sqrt(max(self.total_sq / self.present - mean * mean, 0.0))


def category_key(value: Any) -> str | None:
    """A category as text, the same whether it came from a CSV or a JSON body: ``1``, ``1.0``
    and ``"1"`` are one category; None and NaN are missing."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def numeric_array(values: Iterable[Any]) -> np.ndarray:
    """Floats with NaN for missing (None, NaN, anything not a number)."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            out.append(math.nan)
        else:
            out.append(float(v))
    return np.asarray(out, dtype=np.float64)


def bucket_counts(values: np.ndarray, minimum: float, maximum: float) -> np.ndarray:
    """Counts in ``BINS + 2`` buckets: below the minimum, ``BINS`` equal-width bins (the last
    one closed, like numpy's), above the maximum. ``values`` holds no NaN."""
    width = (maximum - minimum) or 1.0
    index = np.floor((values - minimum) / width * BINS).astype(np.int64) + 1
    index = np.where(values == maximum, BINS, index)
    index = np.clip(index, 0, BINS + 1)
    index = np.where(values < minimum, 0, np.where(values > maximum, BINS + 1, index))
    return np.bincount(index, minlength=BINS + 2)


def _uniform_sample(values: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= size:
        return values.astype(np.float64, copy=True)
    return rng.choice(values, size=size, replace=False)


def merge_samples(
    parts: Sequence[tuple[np.ndarray, int]], size: int, rng: np.random.Generator
) -> np.ndarray:
    """A uniform sample of at most ``size`` values of the union of stretches, each given as
    (its uniform sample, how many values it had): each stretch contributes in proportion to its
    count (a multivariate hypergeometric draw), not to the size of its sample."""
    parts = [(s, n) for s, n in parts if n > 0 and len(s)]
    if not parts:
        return np.empty(0)
    total = sum(n for _, n in parts)
    if total <= size:
        return np.concatenate([s for s, _ in parts])
    counts = rng.multivariate_hypergeometric([n for _, n in parts], size)
    chosen = [
        _uniform_sample(s, int(min(k, len(s))), rng)
        for (s, _), k in zip(parts, counts, strict=True)
    ]
    return np.concatenate(chosen)


def reference_feature(
    *,
    name: str,
    kind: str,
    values: Sequence[Any] | np.ndarray,
    rng: np.random.Generator | None = None,
) -> Reference:
    """Freeze one feature of the reference data."""
    rng = rng or np.random.default_rng(0)
    rows = len(values)
    if kind == "categorical":
        keys = [category_key(v) for v in values]
        counts: dict[str, int] = {}
        for key in keys:
            if key is not None:
                counts[key] = counts.get(key, 0) + 1
        top = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES])
        return Reference(
            name=name, kind=kind, rows=rows, missing=sum(k is None for k in keys), categories=top
        )
    array = numeric_array(values)
    present = array[~np.isnan(array)]
    ref = Reference(name=name, kind="numeric", rows=rows, missing=rows - len(present))
    if len(present):
        ref.minimum, ref.maximum = float(present.min()), float(present.max())
        ref.mean, ref.std = float(present.mean()), float(present.std())
        ref.hist = [int(c) for c in bucket_counts(present, ref.minimum, ref.maximum)]
        ref.sample = _uniform_sample(present, SAMPLE_SIZE, rng)
    return ref


def summarize(
    reference: Reference,
    values: Sequence[Any] | np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    sample_size: int = HOURLY_SAMPLE_SIZE,
) -> Summary:
    """The summary of a stretch of logged values of one feature."""
    rng = rng or np.random.default_rng(0)
    rows = len(values)
    if reference.kind == "categorical":
        # Counted by distinct value (pandas), so an hour of traffic costs one pass, not one
        # Python call per row.
        series = pd.Series(values, dtype=object)
        present_values = series.dropna()
        counts: dict[str, int] = {}
        unseen = 0
        for raw, count in present_values.value_counts().items():
            key = raw if isinstance(raw, str) else category_key(raw)
            if key is None:
                continue
            if key not in reference.categories:
                unseen += int(count)
                key = UNSEEN
            counts[key] = counts.get(key, 0) + int(count)
        missing = rows - sum(counts.values())
        return Summary(rows=rows, missing=missing, unseen=unseen, categories=counts)
    array = values if isinstance(values, np.ndarray) else numeric_array(values)
    array = array.astype(np.float64, copy=False)
    present = array[~np.isnan(array)]
    summary = Summary(rows=rows, missing=rows - len(present))
    if len(present):
        summary.total = float(present.sum())
        summary.total_sq = float(np.square(present).sum())
        if reference.minimum is not None and reference.maximum is not None:
            counts_ = bucket_counts(present, reference.minimum, reference.maximum)
            summary.hist = [int(c) for c in counts_]
            summary.out_of_range = int(counts_[0] + counts_[-1])
        summary.sample = _uniform_sample(present, sample_size, rng)
    return summary


def merge(
    summaries: Sequence[Summary],
    *,
    rng: np.random.Generator | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> Summary:
    """One summary of several stretches (hours of a window, minutes of an hour)."""
    rng = rng or np.random.default_rng(0)
    out = Summary()
    categories: dict[str, int] = {}
    hist = np.zeros(BINS + 2, dtype=np.int64)
    for s in summaries:
        out.rows += s.rows
        out.missing += s.missing
        out.out_of_range += s.out_of_range
        out.unseen += s.unseen
        out.total += s.total
        out.total_sq += s.total_sq
        if s.hist:
            hist += np.asarray(s.hist, dtype=np.int64)
        for key, count in s.categories.items():
            categories[key] = categories.get(key, 0) + count
    out.hist = [int(c) for c in hist]
    out.categories = categories
    out.sample = merge_samples([(s.sample, s.present) for s in summaries], sample_size, rng)
    return out


@dataclass
class FeatureDrift:
    """The drift test of one feature and its data quality in the window."""

    feature: str
    kind: str
    test: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    current_rows: int
    missing_rate: float | None
    out_of_range_rate: float | None
    unseen_rate: float | None
    mean: float | None
    std: float | None
    reference_mean: float | None
    reference_std: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def numeric_test(
    reference: Reference, current: np.ndarray, thresholds: Thresholds, current_hist: Sequence[int]
) -> tuple[str, float, float | None, float, bool]:
    """(test, statistic, p_value, threshold, drifted) for numeric samples."""
    choice = thresholds.numeric_test
    if choice == "auto":
        choice = "ks" if reference.rows <= thresholds.small_reference_rows else "wasserstein"
    if choice == "ks":
        result = stats.ks_2samp(reference.sample, current)
        p = float(result.pvalue)
        return "ks", float(result.statistic), p, thresholds.ks_p_value, p < thresholds.ks_p_value
    if choice == "psi":
        value = psi(reference.hist, current_hist)
        return "psi", value, None, thresholds.psi, value >= thresholds.psi
    norm = max(float(reference.std or 0.0), 0.001)
    value = float(stats.wasserstein_distance(reference.sample, current)) / norm
    return "wasserstein", value, None, thresholds.wasserstein, value >= thresholds.wasserstein


def psi(reference_hist: Sequence[int], current_hist: Sequence[int]) -> float:
    """Population stability index over the reference bins; empty bins count as 0.0001 (as
    Evidently does) so the logarithm stays finite."""
    ref = np.asarray(reference_hist, dtype=np.float64)
    cur = np.asarray(current_hist, dtype=np.float64)
    ref = np.where(ref == 0, 0.0001, ref / max(ref.sum(), 1))
    cur = np.where(cur == 0, 0.0001, cur / max(cur.sum(), 1))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def category_arrays(
    reference: Reference, current: dict[str, int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted union of categories and the reference and current counts over it."""
    keys = sorted(set(reference.categories) | set(current))
    ref = np.asarray([reference.categories.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.asarray([current.get(k, 0) for k in keys], dtype=np.float64)
    return keys, ref, cur


def categorical_test(
    reference: Reference, current: dict[str, int], thresholds: Thresholds
) -> tuple[str, float, float | None, float, bool]:
    choice = thresholds.categorical_test
    if choice == "auto":
        small = reference.rows <= thresholds.small_reference_rows
        choice = "chisquare" if small else "jensenshannon"
    _, ref, cur = category_arrays(reference, current)
    if choice == "chisquare":
        expected = ref * (cur.sum() / ref.sum())
        if np.any((expected == 0) & (cur > 0)):
            # A category the reference never had: infinitely unlikely under the reference.
            return "chisquare", math.inf, 0.0, thresholds.chisquare_p_value, True
        keep = expected > 0
        result = stats.chisquare(cur[keep], expected[keep])
        p = float(result.pvalue)
        return (
            "chisquare",
            float(result.statistic),
            p,
            thresholds.chisquare_p_value,
            (p < thresholds.chisquare_p_value),
        )
    value = float(distance.jensenshannon(ref / ref.sum(), cur / cur.sum()))
    return "jensenshannon", value, None, thresholds.jensenshannon, value >= thresholds.jensenshannon


def feature_drift(reference: Reference, current: Summary, thresholds: Thresholds) -> FeatureDrift:
    """Test one feature of a window against its reference."""
    present = current.present
    rows = current.rows
    result = FeatureDrift(
        feature=reference.name, kind=reference.kind, test=None, statistic=None, p_value=None,
        threshold=None, drifted=False, current_rows=rows,
        missing_rate=current.missing / rows if rows else None,
        out_of_range_rate=current.out_of_range / present if present else None,
        unseen_rate=current.unseen / present if present else None,
        mean=current.mean(), std=current.std(),
        reference_mean=reference.mean, reference_std=reference.std,
    )  # fmt: skip
    if reference.kind == "numeric":
        result.unseen_rate = None
        if present and len(reference.sample):
            test = numeric_test(reference, current.sample, thresholds, current.hist)
            result.test, statistic, result.p_value, result.threshold, result.drifted = test
            result.statistic = statistic
    else:
        result.out_of_range_rate = result.mean = result.std = None
        if present and reference.categories:
            test = categorical_test(reference, current.categories, thresholds)
            result.test, statistic, result.p_value, result.threshold, result.drifted = test
            result.statistic = statistic
    if result.statistic is not None:
        # JSON has no infinity: a category the reference never saw reads as no statistic.
        result.statistic = _finite(result.statistic)
    return result


def dataset_drift(results: Sequence[FeatureDrift], thresholds: Thresholds) -> tuple[float, bool]:
    """(share of tested features that drifted, whether that share reaches the threshold)."""
    tested = [r for r in results if r.test is not None]
    if not tested:
        return 0.0, False
    share = sum(r.drifted for r in tested) / len(tested)
    return share, share >= thresholds.drift_share
