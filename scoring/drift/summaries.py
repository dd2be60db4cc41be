"""References and summaries of a feature's values: counts, range, mean / std, the fixed
histogram and the bounded sample; hourly summaries merge into any window. No Django.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BINS = 20
# Values kept per reference feature and per hourly summary: KS / Wasserstein on more than this
# gains little power and costs memory on every page.
SAMPLE_SIZE = 5000
HOURLY_SAMPLE_SIZE = 2000
MAX_CATEGORIES = 1000
UNSEEN = "(unseen)"
NUMERIC_TESTS = ("auto", "ks", "wasserstein", "psi")
CATEGORICAL_TESTS = ("auto", "chisquare", "jensenshannon")


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
