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

from scoring.drift.checks import (
    FeatureDrift,
    Thresholds,
    _finite,
    categorical_test,
    category_arrays,
    dataset_drift,
    feature_drift,
    numeric_test,
    psi,
)
from scoring.drift.summaries import (
    BINS,
    CATEGORICAL_TESTS,
    HOURLY_SAMPLE_SIZE,
    MAX_CATEGORIES,
    NUMERIC_TESTS,
    SAMPLE_SIZE,
    UNSEEN,
    Reference,
    Summary,
    _uniform_sample,
    bucket_counts,
    category_key,
    merge,
    merge_samples,
    numeric_array,
    reference_feature,
    summarize,
)

__all__ = [
    "BINS",
    "CATEGORICAL_TESTS",
    "HOURLY_SAMPLE_SIZE",
    "MAX_CATEGORIES",
    "NUMERIC_TESTS",
    "SAMPLE_SIZE",
    "UNSEEN",
    "FeatureDrift",
    "Reference",
    "Summary",
    "Thresholds",
    "_finite",
    "_uniform_sample",
    "bucket_counts",
    "categorical_test",
    "category_arrays",
    "category_key",
    "dataset_drift",
    "feature_drift",
    "merge",
    "merge_samples",
    "numeric_array",
    "numeric_test",
    "psi",
    "reference_feature",
    "summarize",
]
