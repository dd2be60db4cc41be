"""Relabel queue under load: 100,000 queued items on PostgreSQL, 8 labelers (separate processes,
each with its own connection) leasing and labeling at once, through the real services
(``relabel_item_lease_next``, ``relabel_item_label``: row locks, ground truth, audit rows).

Prints leases per second, p50 / p99 lease latency, and duplicate leases (an item leased twice
with one label needed). Goal: p99 under 20 ms, zero duplicates. Needs PostgreSQL (SKIP LOCKED):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelgate_bench \
        .venv/bin/python bench/relabel.py [--items 100000] [--labelers 8] [--duration 20]

It migrates that database and adds a team, labelers, a model and a version of its own; the model
(and so its predictions and queue) is deleted after, the audit rows keep the rest.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def setup_django() -> None:
    os.environ.setdefault("MODELGATE_VAR_DIR", tempfile.mkdtemp(prefix="modelgate-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.settings"
    import django

    django.setup()


def fill(items: int, labelers: int) -> tuple[int, list[int]]:
    """The model, a version and ``items`` queued predictions; returns the model id and the
    labelers' user ids."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from releases.models import Membership, ModelVersion, RegisteredModel, Role, Team
    from scoring.models import Prediction, RelabelItem

    tag = uuid.uuid4().hex[:8]
    team = Team.objects.create(name=f"bench-{tag}")
    model = RegisteredModel.objects.create(name=f"bench-relabel-{tag}", team=team)
    version = ModelVersion.objects.create(
        registered_model=model, version=1, status="approved", artifact="-", sha256=tag * 8,
        size=1, format="skops",
        signature={"task": "classification", "classes": ["no", "yes"], "features": []},
    )  # fmt: skip
    users = []
    for i in range(labelers):
        user = User.objects.create(username=f"bench-{tag}-{i}")
        Membership.objects.create(user=user, team=team, role=Role.LABELER)
        users.append(user.pk)
    now = timezone.now()
    batch = 5000
    for start in range(0, items, batch):
        rows = [
            Prediction(
                id=uuid.uuid4(),
                request_id=uuid.uuid4(),
                registered_model=model,
                model_version=version,
                inputs={"x": float(i), "y": "a"},
                prediction="no",
                probabilities=[0.55, 0.45],
                confidence=0.55,
                latency_ms=1.0,
                caller="app:1",
                created_at=now,
            )
            for i in range(start, min(items, start + batch))
        ]
        Prediction.objects.bulk_create(rows)
        RelabelItem.objects.bulk_create(
            RelabelItem(
                prediction=p,
                registered_model=model,
                model_version=version,
                reason="uncertain",
                uncertainty=0.45,
            )
            for p in rows
        )
    return model.pk, users


def labeler(user_id: int, model_id: int, until: float, out: multiprocessing.Queue) -> None:
    from django.contrib.auth.models import User
    from django.db import connections

    from releases.models import RegisteredModel
    from scoring.services import relabel_item_label, relabel_item_lease_next

    connections.close_all()  # never share the parent's connection
    user = User.objects.get(pk=user_id)
    model = RegisteredModel.objects.select_related("team").get(pk=model_id)
    leased: list[int] = []
    latencies: list[float] = []
    labeling: list[float] = []
    while time.time() < until:
        t0 = time.perf_counter()
        item = relabel_item_lease_next(actor=user, registered_model=model)
        latencies.append((time.perf_counter() - t0) * 1000)
        if item is None:
            break
        leased.append(item.pk)
        t1 = time.perf_counter()
        relabel_item_label(actor=user, item=item, label="yes" if item.pk % 3 else "no")
        labeling.append((time.perf_counter() - t1) * 1000)
    connections.close_all()
    out.put((leased, latencies, labeling))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labelers", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("bench/relabel.py: skipped, it needs PostgreSQL (set DATABASE_URL=postgres://...)")
        return
    setup_django()
    from django.core.management import call_command
    from django.db import connection, connections

    from releases.models import RegisteredModel
    from scoring.models import GroundTruth, RelabelItem, RelabelLabel

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    model_id, users = fill(args.items, args.labelers)
    print(f"queued {args.items:,} items in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scoring_relabelitem")
    connections.close_all()

    context = multiprocessing.get_context("fork")
    out = context.Queue()
    until = time.time() + args.duration
    started = time.perf_counter()
    workers = [context.Process(target=labeler, args=(u, model_id, until, out)) for u in users]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    wall = time.perf_counter() - started
    for w in workers:
        w.join()

    leased = [pk for mine, _, _ in results for pk in mine]
    latencies = sorted(ms for _, lat, _ in results for ms in lat)
    labeling = sorted(ms for _, _, lab in results for ms in lab)
    duplicates = len(leased) - len(set(leased))
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    labels = RelabelLabel.objects.filter(item__registered_model_id=model_id).count()
    truths = GroundTruth.objects.filter(registered_model_id=model_id).count()
    print(
        f"{args.labelers} labelers, {wall:.1f} s: {len(leased):,} leases "
        f"({len(leased) / wall:,.0f} leases/s, each followed by a label), "
        f"lease latency p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    print(
        f"label latency p50 {statistics.median(labeling):.2f} ms, "
        f"p99 {labeling[min(len(labeling) - 1, int(len(labeling) * 0.99))]:.2f} ms "
        f"(row lock, ground truth, audit row); load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"duplicate leases: {duplicates}; labels stored: {labels:,}; ground-truth rows: "
        f"{truths:,}; items still open: "
        f"{RelabelItem.objects.filter(registered_model_id=model_id, status='open').count():,}"
    )
    print(
        f"goal p99 < 20 ms: {'met' if p99 < 20 else 'NOT met'}; "
        f"zero duplicates: {'met' if duplicates == 0 and labels == len(leased) else 'NOT met'}"
    )

    # The audit rows (append-only) keep the bench's team and labelers; the queue goes.
    RegisteredModel.objects.filter(pk=model_id).delete()


if __name__ == "__main__":
    main()
