"""Batch scoring job vs scikit-learn's floor: a 100-tree random forest, 20 numeric features,
100,000 rows, as CSV and as Parquet.

The job is what the worker runs (`scoring.tasks.batch_job_run` without the database writes):
read the file, check every row against the signature (`batch_files.check_rows`), hand the
checked rows to a sandboxed child that loads the skops file under the safety policies and scores
them chunk by chunk (`score_in_sandbox`), write the result file. The floor is pandas reading the
same file, `predict_proba` with the model already loaded in this process, and pandas writing the
same result columns.

    .venv/bin/python bench/batch.py [--rows 100000] [--repeat 3] [--chunk 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
import skops.io as sio
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from releases.sandbox import SandboxLimits, resolve_mode
from releases.signature import infer_signature
from scoring import batch_files
from scoring.batch_sandbox import score_in_sandbox


def floor(model: RandomForestClassifier, source: Path, fmt: str, out: Path) -> float:
    started = time.perf_counter()
    frame = pd.read_parquet(source) if fmt == "parquet" else pd.read_csv(source)
    proba = model.predict_proba(frame)
    result = frame.assign(prediction=model.classes_[proba.argmax(axis=1)])
    for j, label in enumerate(model.classes_):
        result[f"probability_{label}"] = proba[:, j]
    result["confidence"] = proba.max(axis=1)
    result.to_parquet(out) if fmt == "parquet" else result.to_csv(out, index=False)
    return time.perf_counter() - started


def job(
    artifact: Path, source: Path, fmt: str, signature: dict, chunk: int, tmp: Path
) -> dict[str, float]:
    times: dict[str, float] = {}
    started = time.perf_counter()
    frame = batch_files.read_frame(source, fmt, signature=signature, max_rows=10**7)
    times["reading the file"] = time.perf_counter() - started
    mark = time.perf_counter()
    checked = batch_files.check_rows(
        frame, fmt, signature=signature, chunk_rows=chunk, max_bad_rows=1000
    )
    rows = tmp / "rows.parquet"
    checked.frame.to_parquet(rows, index=False)
    times["checking rows"] = time.perf_counter() - mark
    mark = time.perf_counter()
    labels, proba, classes = score_in_sandbox(
        artifact_path=artifact, artifact_format="skops", trusted=set(), rows_path=rows,
        signature=signature, chunk_rows=chunk, max_uncompressed_bytes=2 * 1024**3,
        max_entries=100_000, max_schema_bytes=64 * 1024**2,
        limits=SandboxLimits(memory_mb=4096),
    )  # fmt: skip
    times["scoring in the sandbox"] = time.perf_counter() - mark
    mark = time.perf_counter()
    batch_files.write_result(
        frame.iloc[checked.kept], predictions=labels, probabilities=proba, classes=classes,
        fmt=fmt, path=tmp / f"result.{fmt}",
    )  # fmt: skip
    times["writing the result"] = time.perf_counter() - mark
    times["whole job"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()

    X_all, y_all = make_classification(
        n_samples=args.rows + 20_000, n_features=20, n_informative=10, random_state=0
    )
    columns = [f"f{i}" for i in range(20)]
    train = pd.DataFrame(X_all[:20_000], columns=columns)
    model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2)
    model.fit(train, y_all[:20_000])
    model.set_params(n_jobs=None)  # one core, as the sandboxed child
    X = pd.DataFrame(X_all[20_000:], columns=columns)
    signature = infer_signature(estimator=model, evaluation=X, target=None)

    print(
        f"batch benchmark: {args.rows:,} rows x 20 features, 100-tree random forest, chunks "
        f"of {args.chunk:,}; sandbox mode {resolve_mode('auto')}; median of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        artifact = tmp / "model.skops"
        sio.dump(model, artifact)
        for fmt in ("csv", "parquet"):
            source = tmp / f"rows.{fmt}"
            X.to_parquet(source) if fmt == "parquet" else X.to_csv(source, index=False)
            job(artifact, source, fmt, signature, args.chunk, tmp)  # warm the spare child
            floors, runs = [], []
            for _ in range(args.repeat):
                floors.append(floor(model, source, fmt, tmp / f"floor.{fmt}"))
                runs.append(job(artifact, source, fmt, signature, args.chunk, tmp))
            base = statistics.median(floors)
            whole = statistics.median(r["whole job"] for r in runs)
            print()
            print(f"{fmt}: {source.stat().st_size / 1024**2:.1f} MB")
            print(f"  {'floor (pandas read + predict_proba + write)':<46} {base:7.2f} s")
            for stage in runs[0]:
                seconds = statistics.median(r[stage] for r in runs)
                print(f"  {'job: ' + stage:<46} {seconds:7.2f} s")
            print(f"  ratio job / floor: {whole / base:.2f}x; {args.rows / whole:,.0f} rows/s")


if __name__ == "__main__":
    main()
