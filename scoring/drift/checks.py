"""The drift tests (Evidently's default algorithm, computed with scipy) of a summary against
its reference, per feature and for the dataset. No Django.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import distance

from scoring.drift.summaries import (
    Reference,
    Summary,
)


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
