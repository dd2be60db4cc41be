"""Two deliveries of the same batch job, or of the same compiled check, at the same moment on a
real PostgreSQL: the row lock lets exactly one of them run."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from releases.models import CompiledCheckStatus, Stage
from releases.services import compiled_check_start
from scoring import services
from scoring.models import BatchJob, BatchJobStatus
from tests.releases.test_review_concurrency import at_once
from tests.scoring.serving import forest_model, serve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises whole-database writes; row locks need PostgreSQL")


@pytest.mark.parametrize("attempt", range(3))
def test_two_workers_starting_the_same_batch_job_start_it_once(
    risk_model: Any, owner: Any, attempt: int
) -> None:
    version = serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    job = BatchJob.objects.create(
        registered_model=risk_model, model_version=version, input_format="csv",
        input_file="batch/x/input.csv", caller=f"user:{owner.pk}", requested_by=owner,
    )  # fmt: skip

    results = at_once(
        lambda: services.batch_job_start(job_id=str(job.pk), task_id="a"),
        lambda: services.batch_job_start(job_id=str(job.pk), task_id="b"),
    )

    started = [r for r in results if r is not None]
    assert len(started) == 1
    job.refresh_from_db()
    assert job.status == BatchJobStatus.RUNNING and job.task_id == started[0].task_id


@pytest.mark.parametrize("attempt", range(3))
def test_two_workers_starting_the_same_compiled_check_start_it_once(
    risk_model: Any, owner: Any, attempt: int
) -> None:
    version = serve(risk_model, 1, model=forest_model(), uploaded_by=owner, status="validated")
    version.compiled_check = CompiledCheckStatus.QUEUED
    version.save(update_fields=["compiled_check"])

    results = at_once(
        lambda: compiled_check_start(version_id=version.pk),
        lambda: compiled_check_start(version_id=version.pk),
    )

    assert len([r for r in results if r is not None]) == 1
    version.refresh_from_db()
    assert version.compiled_check == CompiledCheckStatus.RUNNING
