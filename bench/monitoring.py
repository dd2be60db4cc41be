"""Monitoring benchmark (issue 14): 10 million logged predictions in PostgreSQL, then the
hourly aggregation of one hour of traffic at 1,000 predictions/s (3.6M rows; goal < 30 s) and
each dashboard / drift query (goal < 200 ms).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelgate_bench \\
        .venv/bin/python bench/monitoring.py [--rows 10000000] [--hour-rows 3600000]

The database is created if missing and migrated; its scoring tables are emptied first. Rows go
in with COPY (psycopg), generated with numpy: one version of a served classifier with 8 numeric
and 2 categorical features. The bench hour (the last full hour) holds ``--hour-rows``; the rest
are spread over the hours before it, which are aggregated (not timed as the goal) so the
dashboard reads a week of hourly rows. Each query runs 7 times; the table shows the median and
the slowest.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NUMERIC = [f"x{i}" for i in range(8)]
CATEGORIES = {"region": ["north", "south", "east", "west"], "plan": ["free", "pro", "team"]}
BLOCK = 200_000


def setup_django(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        sys.exit("bench/monitoring.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("MODELGATE_VAR_DIR", str(ROOT / "var" / "bench-monitoring"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def served_version() -> Any:
    import numpy as np
    import pandas as pd
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from releases.models import (
        EvaluationDataset,
        Membership,
        ModelVersion,
        RegisteredModel,
        Role,
        StageAssignment,
        Team,
    )
    from scoring.models import (
        Alert,
        HourlyFeature,
        HourlyPredictions,
        MonitoringCursor,
        MonitoringReference,
    )

    for table in (Alert, HourlyFeature, HourlyPredictions, MonitoringCursor, MonitoringReference):
        table.objects.all().delete()
    from django.contrib.auth.models import User

    team, _ = Team.objects.get_or_create(name="bench")
    user, _ = User.objects.get_or_create(username="bench-owner")
    Membership.objects.get_or_create(user=user, team=team, role=Role.DATA_SCIENTIST)
    model, _ = RegisteredModel.objects.get_or_create(name="bench-monitoring", team=team)
    version = ModelVersion.objects.filter(registered_model=model, version=1).first()
    if version is None:
        rng = np.random.default_rng(0)
        n = 5000
        frame = pd.DataFrame({name: rng.normal(0, 1, n) for name in NUMERIC})
        for name, values in CATEGORIES.items():
            frame[name] = rng.choice(values, n)
        frame["label"] = (frame["x0"] > 0).astype(int)
        path = default_storage.save(
            "datasets/bench-eval.csv", ContentFile(frame.to_csv(index=False))
        )
        dataset = EvaluationDataset.objects.create(
            registered_model=model, file=path, sha256="0" * 64, size=1, target="label",
            n_rows=n, columns=list(frame.columns),
        )  # fmt: skip
        features = [{"name": f, "type": "numeric"} for f in NUMERIC] + [
            {"name": f, "type": "categorical", "categories": v} for f, v in CATEGORIES.items()
        ]
        version = ModelVersion.objects.create(
            registered_model=model, version=1, status="approved", artifact="bench.skops",
            sha256="1" * 64, size=1, format="skops", evaluation_dataset=dataset,
            signature={"task": "classification", "classes": [0, 1], "features": features},
        )  # fmt: skip
        StageAssignment.objects.get_or_create(
            registered_model=model, stage="production",
            defaults={"model_version": version, "assigned_by": user, "assigned_at": timezone.now()},
        )  # fmt: skip
    return version, user


def insert(version: Any, *, rows: int, start: Any, seconds: float, rng: Any) -> float:
    """COPY ``rows`` predictions spread evenly over ``seconds`` from ``start``; seconds taken."""
    import numpy as np
    from django.db import connection

    began = time.perf_counter()
    columns = (
        "id, request_id, registered_model_id, model_version_id, stage, inputs, prediction, "
        "probabilities, confidence, latency_ms, caller, created_at"
    )
    epoch = start.timestamp()
    fixed = f"{version.registered_model_id}\t{version.pk}\tproduction\t"
    copy_sql = f"COPY scoring_prediction ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for offset in range(0, rows, BLOCK):
            n = min(BLOCK, rows - offset)
            ids = os.urandom(16 * n).hex()
            numbers = rng.normal(0, 1, (n, len(NUMERIC))).round(4)
            cats = {k: rng.choice(v, n) for k, v in CATEGORIES.items()}
            conf = rng.uniform(0.5, 1.0, n).round(4)
            latency = rng.gamma(2.0, 1.5, n).round(3)
            micros = (epoch + (offset + np.arange(n)) * (seconds / rows)) * 1e6
            stamps = np.datetime_as_string(micros.astype("datetime64[us]"))
            out = io.StringIO()
            for i in range(n):
                uid = ids[32 * i : 32 * i + 32]
                x = numbers[i]
                inputs = (
                    f'{{"x0": {x[0]}, "x1": {x[1]}, "x2": {x[2]}, "x3": {x[3]}, '
                    f'"x4": {x[4]}, "x5": {x[5]}, "x6": {x[6]}, "x7": {x[7]}, '
                    f'"region": "{cats["region"][i]}", "plan": "{cats["plan"][i]}"}}'
                )
                c = conf[i]
                out.write(
                    f"{uid}\t{uid}\t{fixed}{inputs}\t{int(x[0] > 0)}\t[{c}, {1 - c:.4f}]\t"
                    f"{c}\t{latency[i]}\tapp:1\t{stamps[i]}+00\n"
                )
            copy.write(out.getvalue())
    return time.perf_counter() - began


def timed(fn: Callable[[], Any], runs: int = 7) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--hour-rows", type=int, default=3_600_000)
    parser.add_argument("--history-hours", type=int, default=167)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/modelgate_bench"
        ),
    )
    args = parser.parse_args()
    setup_django(args.database_url)
    import numpy as np
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from scoring import selectors, services
    from scoring.models import Prediction
    from scoring.selectors.monitoring import Window
    from scoring.services.monitoring import hour_of

    settings.ALLOWED_HOSTS = ["testserver"]
    version, user = served_version()
    now = timezone.now()
    bench_hour = hour_of(now) - timedelta(hours=1)
    rng = np.random.default_rng(1)
    existing = Prediction.objects.count()
    print(f"prediction log: {existing:,} rows before the run", flush=True)
    if existing == args.rows:
        # Rows of an earlier run: the bench hour is the hour of its latest rows.
        latest = Prediction.objects.filter(model_version=version).order_by("-created_at").first()
        bench_hour = hour_of(latest.created_at if latest else now)
    else:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE scoring_prediction CASCADE")
            # Loading is setup, not what is measured: build the secondary indexes once, after.
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
                "'scoring_prediction' AND indexname NOT LIKE '%%pkey'"
            )
            indexes = cursor.fetchall()
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            cursor.execute("SET synchronous_commit TO off")
        history = args.rows - args.hour_rows
        history_start = bench_hour - timedelta(hours=args.history_hours)
        took = insert_rows(version, history, history_start, args.history_hours * 3600, rng)
        took += insert_rows(version, args.hour_rows, bench_hour, 3600, rng)
        began = time.perf_counter()
        with connection.cursor() as cursor:
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute("ANALYZE scoring_prediction")
        print(
            f"inserted {args.rows:,} rows with COPY in {took:.0f} s; indexes and ANALYZE "
            f"{time.perf_counter() - began:.0f} s",
            flush=True,
        )
    results: list[tuple[str, str, float, float | None, str]] = []

    began = time.perf_counter()
    services.reference_freeze(model_version=version)
    history_rows = services.version_aggregate(model_version=version, until=bench_hour)
    backfill = time.perf_counter() - began
    results.append(
        ("aggregate the history (before the bench hour)", f"{history_rows:,} rows", backfill * 1000,
         None, "-")
    )  # fmt: skip
    began = time.perf_counter()
    hour_rows = services.version_aggregate(
        model_version=version, until=bench_hour + timedelta(hours=1)
    )
    hour = time.perf_counter() - began
    results.append(
        ("aggregate one hour at 1,000/s", f"{hour_rows:,} rows", hour * 1000, None,
         "< 30 s: " + ("yes" if hour < 30 else "NO"))
    )  # fmt: skip
    idle = timed(lambda: services.monitor_run(now=bench_hour + timedelta(hours=1, seconds=10)), 3)
    results.append(("monitoring job, nothing new (alerts)", "", idle[0], idle[1], "-"))

    client = Client()
    client.force_login(user)
    at = bench_hour + timedelta(hours=1, minutes=1)
    queries: list[tuple[str, Callable[[], Any]]] = [
        ("drift report, window 1h", lambda: selectors.drift_report(
            model_version=version, window=Window(1, "hours"), now=at)),
        ("drift report, window 24h", lambda: selectors.drift_report(
            model_version=version, window=Window(24, "hours"), now=at)),
        ("drift report, window 168h", lambda: selectors.drift_report(
            model_version=version, window=Window(168, "hours"), now=at)),
        ("drift report, last 10,000 predictions", lambda: selectors.drift_report(
            model_version=version, window=Window(10_000, "predictions"), now=at)),
        ("prediction stats, 24h", lambda: selectors.prediction_stats(
            model_version=version, hours=24, now=at)),
        ("hourly series, 48h", lambda: selectors.hourly_series(
            model_version=version, hours=48, now=at)),
        ("overview: served versions", lambda: selectors.served_versions(user=user, now=at)),
        ("GET /api/v1/models/{name}/drift/ (24h)", lambda: client.get(
            "/api/v1/models/bench-monitoring/drift/?window=24h")),
        ("GET /models/{name}/monitoring/ (page)", lambda: client.get(
            "/models/bench-monitoring/monitoring/?window=24h")),
        ("GET /monitoring/ (overview page)", lambda: client.get("/monitoring/")),
    ]  # fmt: skip
    for name, fn in queries:
        median, worst = timed(fn)
        results.append((name, "", median, worst, "< 200 ms: " + ("yes" if median < 200 else "NO")))

    print()
    print(f"{'step':<46} {'rows':>14} {'median ms':>11} {'max ms':>9}  goal")
    print("-" * 96)
    for name, rows, median, worst, goal in results:
        worst_text = f"{worst:9.1f}" if worst is not None else f"{'':9}"
        print(f"{name:<46} {rows:>14} {median:11.1f} {worst_text}  {goal}")
    print(f"\nprediction log: {Prediction.objects.count():,} rows; PostgreSQL "
          f"{connection.cursor().connection.info.server_version}")  # fmt: skip


def insert_rows(version: Any, rows: int, start: Any, seconds: float, rng: Any) -> float:
    return insert(version, rows=rows, start=start, seconds=seconds, rng=rng) if rows > 0 else 0.0


if __name__ == "__main__":
    main()
