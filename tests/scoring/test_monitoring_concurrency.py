"""Two monitoring runs at once never count a logged prediction twice (PostgreSQL row locks;
SQLite has none, and the cursor's compare-and-set covers it there)."""

from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection

from scoring import services
from scoring.models import HourlyFeature, HourlyPredictions
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_aggregate_each_row_once(risk_model, owner, settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    settings.MODELGATE_MONITORING_READERS = 2  # committed rows: each run reads on two connections
    version, _ = served_version(risk_model, owner)
    start = past_hour(5)
    for i in range(4):
        log_hour(version, start + timedelta(hours=i), frame(np.random.default_rng(i), 500))
    services.reference_freeze(model_version=version)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            services.version_aggregate(model_version=version, until=start + timedelta(hours=4))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    # A run that found the cursor locked stopped; the others went on: 4 hours, each once.
    services.version_aggregate(model_version=version, until=start + timedelta(hours=4))
    rows = HourlyPredictions.objects.filter(model_version=version).values_list("rows", flat=True)
    assert sorted(rows) == [500, 500, 500, 500]
    assert sum(HourlyFeature.objects.filter(feature="a").values_list("rows", flat=True)) == 2000
