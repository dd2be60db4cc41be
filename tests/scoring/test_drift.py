"""scoring.drift on synthetic streams: exactly the shifted feature is flagged, with scipy's own
statistics; unshifted data of the same size is not flagged."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from scoring import drift

CITIES = ["lisbon", "porto", "braga", "faro"]


def _frame(rng: np.random.Generator, n: int, *, shift_b: float = 0.0, cities_p=None):
    return {
        "a": rng.normal(0, 1, n),
        "b": rng.normal(shift_b, 1, n),
        "c": rng.uniform(0, 10, n),
        "city": rng.choice(CITIES, n, p=cities_p or [0.4, 0.3, 0.2, 0.1]),
    }


def _run(reference_rows: int, current_rows: int, *, shift_b: float, cities_p=None):
    rng = np.random.default_rng(11)
    ref = _frame(rng, reference_rows)
    cur = _frame(rng, current_rows, shift_b=shift_b, cities_p=cities_p)
    results = {}
    for name, values in ref.items():
        kind = "categorical" if name == "city" else "numeric"
        reference = drift.reference_feature(name=name, kind=kind, values=list(values))
        summary = drift.merge(
            [
                drift.summarize(reference, list(cur[name][: current_rows // 2])),
                drift.summarize(reference, list(cur[name][current_rows // 2 :])),
            ]
        )
        results[name] = drift.feature_drift(reference, summary, drift.Thresholds())
    return ref, cur, results


def test_small_reference_flags_only_the_shifted_feature_with_scipys_ks_and_chisquare():
    ref, cur, results = _run(800, 1500, shift_b=0.5)
    assert [n for n, r in results.items() if r.drifted] == ["b"]
    for name in ("a", "b", "c"):
        expected = stats.ks_2samp(ref[name], cur[name])
        assert results[name].test == "ks"
        assert results[name].statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert results[name].p_value == pytest.approx(expected.pvalue, rel=1e-9)
    ref_counts = np.array([np.sum(ref["city"] == c) for c in sorted(CITIES)], dtype=float)
    cur_counts = np.array([np.sum(cur["city"] == c) for c in sorted(CITIES)], dtype=float)
    expected = stats.chisquare(cur_counts, ref_counts * cur_counts.sum() / ref_counts.sum())
    assert results["city"].test == "chisquare"
    assert results["city"].statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert results["city"].p_value == pytest.approx(expected.pvalue, rel=1e-9)
    share, drifted = drift.dataset_drift(list(results.values()), drift.Thresholds())
    assert share == 0.25 and not drifted


def test_large_reference_uses_normalised_wasserstein_and_jensen_shannon_as_scipy_does():
    ref, cur, results = _run(4000, 4000, shift_b=0.5, cities_p=[0.1, 0.2, 0.3, 0.4])
    assert sorted(n for n, r in results.items() if r.drifted) == ["b", "city"]
    for name in ("a", "b", "c"):
        expected = stats.wasserstein_distance(ref[name], cur[name]) / np.std(ref[name])
        assert results[name].test == "wasserstein"
        assert results[name].statistic == pytest.approx(expected, rel=1e-9)
    ref_p = np.array([np.mean(ref["city"] == c) for c in sorted(CITIES)])
    cur_p = np.array([np.mean(cur["city"] == c) for c in sorted(CITIES)])
    assert results["city"].test == "jensenshannon"
    assert results["city"].statistic == pytest.approx(distance.jensenshannon(ref_p, cur_p))


@pytest.mark.parametrize("reference_rows", [800, 4000])
def test_no_feature_drifts_on_unshifted_data_of_the_same_size(reference_rows):
    _, _, results = _run(reference_rows, reference_rows, shift_b=0.0)
    assert not any(r.drifted for r in results.values())
    share, drifted = drift.dataset_drift(list(results.values()), drift.Thresholds())
    assert share == 0.0 and not drifted


def test_quality_rates_count_missing_out_of_range_and_unseen_values():
    numeric = drift.reference_feature(name="x", kind="numeric", values=[0.0, 1.0, 2.0, 3.0])
    summary = drift.summarize(numeric, [None, 1.5, 5.0, -1.0, 3.0])
    result = drift.feature_drift(numeric, summary, drift.Thresholds())
    assert result.missing_rate == pytest.approx(0.2)
    assert result.out_of_range_rate == pytest.approx(0.5)
    assert summary.hist[0] == 1 and summary.hist[-1] == 1 and sum(summary.hist) == 4
    category = drift.reference_feature(name="c", kind="categorical", values=["a", "b", 1, 2.0])
    summary = drift.summarize(category, ["a", "zzz", "1", 2, None])
    result = drift.feature_drift(category, summary, drift.Thresholds())
    assert result.unseen_rate == pytest.approx(0.25)
    assert result.drifted  # a category the reference never had


def test_psi_option_flags_a_shift_and_samples_merge_in_proportion_to_counts():
    rng = np.random.default_rng(11)
    reference = drift.reference_feature(name="x", kind="numeric", values=rng.normal(0, 1, 3000))
    shifted = drift.summarize(reference, rng.normal(1, 1, 3000))
    options = drift.Thresholds(numeric_test="psi")
    assert drift.feature_drift(reference, shifted, options).drifted
    big = drift.Summary(rows=9000, sample=np.zeros(2000))
    small = drift.Summary(rows=1000, sample=np.ones(1000))
    merged = drift.merge([big, small], sample_size=1000)
    assert len(merged.sample) == 1000
    assert 0.05 < merged.sample.mean() < 0.15
