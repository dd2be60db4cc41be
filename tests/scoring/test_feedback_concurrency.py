"""Many reports of one prediction at once (real PostgreSQL, threads): one ground-truth row, no
error, and the audit rows form one unbroken chain of replacements."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from django.db import connection, connections

from releases.models import AuditEvent, Stage
from scoring import services
from scoring.models import GroundTruth
from scoring.prediction_log import prediction_log
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import bodies, post, sample

THREADS = 8
ROUNDS = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_feedback_on_one_prediction_keeps_one_row_and_a_consistent_audit_chain(
    risk_model: Any, owner: Any, reviewer: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises every writer)")
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    _, key = services.app_token_create(actor=reviewer, registered_model=risk_model, name="crm")
    pid = post("/api/v1/models/credit-risk/predict/", bodies(sample(1))["instances"], key).json()[
        "prediction_ids"
    ][0]
    prediction_log.flush()
    statuses: list[int] = []
    start = threading.Barrier(THREADS)

    def report(i: int) -> None:
        try:
            start.wait()
            for round_ in range(ROUNDS):
                label = "churn" if (i + round_) % 2 else "stay"
                response = post(f"/api/v1/predictions/{pid}/feedback/", {"label": label}, key)
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * (THREADS * ROUNDS)
    truth = GroundTruth.objects.get(prediction_id=pid)
    chain = list(
        AuditEvent.objects.filter(action="prediction.feedback_replace")
        .order_by("id")
        .values_list("payload", flat=True)
    )
    for before, after in itertools.pairwise(chain):
        assert after["previous_label"] == before["label"]  # no replacement went unrecorded
    if chain:
        assert chain[-1]["label"] == truth.label
