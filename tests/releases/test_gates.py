"""Release gates: the policy is checked strictly, and each gate passes or fails as configured
with its measured value and threshold."""

from __future__ import annotations

import pytest

from releases.gates import GatePolicyError, clean_policy, evaluate


def _report(*, metrics=None, comparison=None, latency_p99=5.0, undefined=None):
    return {
        "evaluation": {"metrics": metrics or {}, "undefined_metrics": undefined or {}},
        "comparison": comparison,
        "cost": {"latency_ms": {"single_row": {"p50": 1.0, "p99": latency_p99}}},
    }


def _comparison(**deltas):
    return {
        "against_version": 1,
        "metrics": {name: {"delta": delta} for name, delta in deltas.items()},
        "signature_diff": None,
    }


def test_no_policy_means_no_gates_and_passing():
    assert evaluate({}, _report()) == ([], True)


def test_min_metric_passes_at_the_threshold_and_fails_below():
    gates, passed = evaluate({"min_metrics": {"accuracy": 0.9}}, _report(metrics={"accuracy": 0.9}))
    assert passed and gates[0]["measured"] == 0.9 and gates[0]["threshold"] == 0.9
    gates, passed = evaluate(
        {"min_metrics": {"accuracy": 0.9}}, _report(metrics={"accuracy": 0.89})
    )
    assert not passed
    assert gates[0] == {
        "name": "accuracy ≥ 0.9", "kind": "min_metric", "metric": "accuracy", "threshold": 0.9,
        "measured": 0.89, "passed": False, "detail": "accuracy is 0.89; it must be at least 0.9.",
    }  # fmt: skip


def test_min_metric_on_an_error_is_a_ceiling():
    policy = {"min_metrics": {"mae": 2.0}}
    assert evaluate(policy, _report(metrics={"mae": 1.5}))[1] is True
    gates, passed = evaluate(policy, _report(metrics={"mae": 2.5}))
    assert not passed and "at most 2" in gates[0]["detail"]


def test_an_undefined_metric_fails_its_gate_with_the_reason():
    gates, passed = evaluate(
        {"min_metrics": {"roc_auc": 0.8}},
        _report(metrics={"roc_auc": None}, undefined={"roc_auc": "only one class"}),
    )
    assert not passed and gates[0]["measured"] is None and "only one class" in gates[0]["detail"]


def test_max_regression_follows_metric_direction():
    policy = {"max_regression": {"roc_auc": 0.01, "log_loss": 0.05}}
    # roc_auc 0.005 lower (allowed), log_loss 0.1 higher (worse than allowed).
    gates, passed = evaluate(policy, _report(comparison=_comparison(roc_auc=-0.005, log_loss=0.1)))
    by_metric = {g["metric"]: g for g in gates}
    assert by_metric["roc_auc"]["passed"] and by_metric["roc_auc"]["measured"] == 0.005
    assert not by_metric["log_loss"]["passed"] and by_metric["log_loss"]["measured"] == 0.1
    assert not passed
    # Better than production is always within any allowed regression.
    gates, passed = evaluate(policy, _report(comparison=_comparison(roc_auc=0.02, log_loss=-0.3)))
    assert passed


def test_max_regression_passes_without_production_and_fails_when_uncomparable():
    policy = {"max_regression": {"accuracy": 0.0}}
    gates, passed = evaluate(policy, _report(comparison=None))
    assert passed and "No production version" in gates[0]["detail"]
    gates, passed = evaluate(policy, _report(comparison=_comparison(accuracy=None)))
    assert not passed


def test_max_latency_uses_single_row_p99():
    assert evaluate({"max_latency_ms": 10}, _report(latency_p99=9.9))[1] is True
    gates, passed = evaluate({"max_latency_ms": 10}, _report(latency_p99=10.1))
    assert not passed and gates[0]["measured"] == 10.1 and gates[0]["kind"] == "max_latency"


def test_breaking_signature_change_blocks_only_when_asked():
    diff = {"added": ["zip_code"], "removed": [], "retyped": [], "task_changed": False,
            "classes_removed": [], "changed": True}  # fmt: skip
    comparison = {**_comparison(), "signature_diff": diff}
    gates, passed = evaluate(
        {"block_breaking_signature_change": True}, _report(comparison=comparison)
    )
    assert not passed and "zip_code" in gates[0]["detail"]
    assert evaluate({"block_breaking_signature_change": False}, _report(comparison=comparison)) == (
        [],
        True,
    )
    # Dropping an input is not breaking: callers may keep sending it.
    removed = {**diff, "added": [], "removed": ["zip_code"]}
    _, passed = evaluate(
        {"block_breaking_signature_change": True},
        _report(comparison={**_comparison(), "signature_diff": removed}),
    )
    assert passed


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"min_metric": {"accuracy": 0.9}}, "gates.min_metric"),
        ({"min_metrics": {"acuracy": 0.9}}, "gates.min_metrics.acuracy"),
        ({"min_metrics": {"accuracy": "high"}}, "gates.min_metrics.accuracy"),
        ({"min_metrics": {"accuracy": True}}, "gates.min_metrics.accuracy"),
        ({"min_metrics": [0.9]}, "gates.min_metrics"),
        ({"max_regression": {"roc_auc": -0.1}}, "gates.max_regression.roc_auc"),
        ({"max_latency_ms": 0}, "gates.max_latency_ms"),
        ({"block_breaking_signature_change": "yes"}, "gates.block_breaking_signature_change"),
        ([], "gates"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_offending_key(policy, field):
    with pytest.raises(GatePolicyError) as info:
        clean_policy(policy)
    assert info.value.field == field
    assert field.split(".")[-1] in info.value.message


def test_a_good_policy_is_normalised():
    assert clean_policy(
        {"min_metrics": {"accuracy": 1}, "max_latency_ms": 50,
         "block_breaking_signature_change": True}
    ) == {"min_metrics": {"accuracy": 1.0}, "max_latency_ms": 50.0,
          "block_breaking_signature_change": True}  # fmt: skip
