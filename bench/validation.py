"""Validation job vs scikit-learn's floor: a 100-tree random forest on a 100,000-row, 20-feature
evaluation set.

The job is what the worker runs (`validate_in_sandbox`: a bubblewrap child reads the CSV, loads
the skops file under the safety policies, predicts once and computes metrics, curves, slices and
the serving cost). The floor is scikit-learn's own `predict_proba` plus the metric functions on
the same data, in this process with the model already loaded. Goal: job <= 1.5 x floor + the
latency measurement's fixed cost. The compiled-form (ONNX) check, a job of its own after
validation, is timed once beside it.

    .venv/bin/python bench/validation.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn import metrics
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from releases.sandbox import SandboxLimits, resolve_mode
from releases.sandbox.compiled_check import compiled_check_in_sandbox
from releases.sandbox.validation import validate_in_sandbox


def floor(model: RandomForestClassifier, X: pd.DataFrame, y: np.ndarray) -> float:
    """scikit-learn alone: one predict_proba and the metric functions the report holds."""
    started = time.perf_counter()
    proba = model.predict_proba(X)
    y_hat = model.classes_[proba.argmax(axis=1)]
    metrics.accuracy_score(y, y_hat)
    metrics.balanced_accuracy_score(y, y_hat)
    for average in ("macro", "weighted"):
        metrics.precision_recall_fscore_support(y, y_hat, average=average, zero_division=0)
    metrics.roc_auc_score(y, proba[:, 1])
    metrics.log_loss(y, proba)
    metrics.brier_score_loss(y, proba[:, 1])
    metrics.confusion_matrix(y, y_hat)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    X_all, y_all = make_classification(
        n_samples=args.rows + 20_000, n_features=20, n_informative=10, random_state=0
    )
    columns = [f"f{i}" for i in range(20)]
    train = pd.DataFrame(X_all[:20_000], columns=columns)
    model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2)
    model.fit(train, y_all[:20_000])
    model.set_params(n_jobs=None)  # predict on one core, as the sandboxed child does
    X = pd.DataFrame(X_all[20_000:], columns=columns)
    y = y_all[20_000:]

    with tempfile.TemporaryDirectory() as tmp:
        artifact, csv = Path(tmp) / "model.skops", Path(tmp) / "eval.csv"
        sio.dump(model, artifact)
        X.assign(label=y).to_csv(csv, index=False)

        def job() -> dict:
            return validate_in_sandbox(
                artifact_path=artifact, artifact_format="skops", trusted=set(),
                evaluation_path=csv, target="label", max_rows=args.rows,
                max_uncompressed_bytes=2 * 1024**3, max_entries=100_000,
                max_schema_bytes=64 * 1024**2, limits=SandboxLimits(memory_mb=4096),
            )  # fmt: skip

        # A worker's first job starts a child from nothing; every later one gets the warm spare
        # started (and importing) while the previous job ran. The table is the steady state.
        started = time.perf_counter()
        job()
        cold = time.perf_counter() - started
        floors, jobs, latency, reports = [], [], [], []
        for _ in range(args.repeat):
            floors.append(floor(model, X, y))
            started = time.perf_counter()
            report = job()
            jobs.append(time.perf_counter() - started)
            latency.append(report["timings"].get("measuring latency", 0.0))
            reports.append(report)
        # The ONNX equivalence check is its own job, queued once validation succeeded: the
        # version is validated (and served by scikit-learn) without waiting for it.
        started = time.perf_counter()
        evidence, _ = compiled_check_in_sandbox(
            artifact_path=artifact, trusted=set(), evaluation_path=csv, target="label",
            features=columns, signature=reports[-1]["signature"], max_rows=args.rows,
            max_uncompressed_bytes=2 * 1024**3, max_entries=100_000,
            max_schema_bytes=64 * 1024**2, limits=SandboxLimits(memory_mb=4096),
        )  # fmt: skip
        compiled_job = time.perf_counter() - started

    report = reports[-1]
    job_s, lat, base = (
        statistics.median(jobs),
        statistics.median(latency),
        statistics.median(floors),
    )
    print(f"validation benchmark: {args.rows:,} rows x 20 features, 100-tree random forest")
    print(f"sandbox mode: {resolve_mode('auto')}; artifact {artifact_size(report)}; "
          f"median of {args.repeat} runs")  # fmt: skip
    print()
    rows = [
        ("scikit-learn floor (predict_proba + metrics)", base),
        ("first job of a worker (child starts cold)", cold),
        ("validation job, whole (warm sandboxed child)", job_s),
        ("  of which latency measurement (fixed cost)", lat),
        ("  job without the latency measurement", job_s - lat),
    ]
    for label, seconds in rows:
        print(f"{label:<48} {seconds:8.2f} s")
    print()
    print(f"{'compiled-form check, its own job afterwards':<48} {compiled_job:8.2f} s")
    print(
        f"  verdict: {evidence['runtime']}, {evidence['rows_checked']:,} rows checked, "
        f"conversion and comparison {evidence['seconds']:.2f} s"
    )
    print()
    print(f"ratio (job - latency) / floor: {(job_s - lat) / base:.2f}x   (goal <= 1.50x)")
    timings = report["timings"]
    compute = timings.get("evaluating", 0.0) + timings.get("computing slices", 0.0)
    print(f"ratio (predict + metrics + curves + slices) / floor: {compute / base:.2f}x")
    print("where the job's time goes (child timings; the rest is process start and transfer):")
    for stage, seconds in timings.items():
        print(f"  {stage:<30} {seconds:8.2f} s")
    print(f"  {'sandbox start, copies, result':<30} {job_s - sum(timings.values()):8.2f} s")
    cost = report["cost"]
    single, batch = cost["latency_ms"]["single_row"], cost["latency_ms"]["batch_100"]
    print(
        f"serving cost: load {cost['load_seconds']:.2f} s, peak memory "
        f"{cost['peak_memory_mb']:.0f} MB, single row p50 {single['p50']:.2f} ms / p99 "
        f"{single['p99']:.2f} ms, 100 rows p50 {batch['p50']:.2f} ms / p99 {batch['p99']:.2f} ms"
    )


def artifact_size(report: dict) -> str:
    return f"{report['cost']['artifact_bytes'] / 1024**2:.1f} MB"


if __name__ == "__main__":
    main()
