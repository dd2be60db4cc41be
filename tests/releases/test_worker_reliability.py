"""Real worker processes die and hang; no version is lost or stuck, and exactly one report exists.

Each test starts its own workers on a queue of its own (so a worker another test left running
cannot take the job) with a short visibility timeout, and routes validation there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from releases import services
from releases.models import AuditEvent, ModelVersion, VersionStatus
from tests.conftest import BASE_DIR, _test_database_url, wait_for
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.releases import model_files as mf
from tests.releases.test_validation_worker import _pipeline_and_csv

pytestmark = pytest.mark.worker

# The shortest visibility timeout the settings accept, and limits that fit under it.
SHORT_VISIBILITY = {
    "CELERY_VISIBILITY_TIMEOUT": "60",
    "CELERY_TASK_TIME_LIMIT": "50",
    "CELERY_TASK_SOFT_TIME_LIMIT": "40",
    "MODELGATE_SANDBOX_WALL_SECONDS": "30",
}
FINAL = {VersionStatus.VALIDATED, VersionStatus.VALIDATION_FAILED}


class Workers:
    """Starts `celery worker` processes consuming one private queue; stops them at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.queue = f"reliability-{uuid.uuid4().hex[:8]}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *, app: str = "webapp", **env: str) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"{name}.log"
        full_env = {
            **os.environ, "DATABASE_URL": _test_database_url(), **SHORT_VISIBILITY, **env,
        }  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", app, "worker", "-Q", self.queue,
                    "--pool=solo", "--concurrency=1", "--loglevel=INFO",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "--hostname", f"{name}-{os.getpid()}@%h",
                ],
                cwd=BASE_DIR, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.procs.append(proc)
        deadline = time.monotonic() + 90
        while b" ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"worker {name} did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        proc.log_path = log  # type: ignore[attr-defined]
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(transactional_db, tmp_path, monkeypatch) -> Iterator[Workers]:
    from releases.services import lifecycle, sweeper
    from releases.tasks import validate_model_version

    pool = Workers(tmp_path)

    def enqueue(*, version_id: int) -> bool:
        validate_model_version.apply_async(kwargs={"version_id": version_id}, queue=pool.queue)
        return True

    monkeypatch.setattr(lifecycle, "enqueue_validation", enqueue)
    monkeypatch.setattr(sweeper, "enqueue_validation", enqueue)
    yield pool
    pool.stop()


def events(version: ModelVersion) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(model_version=version, action__startswith="version.").order_by(
            "id"
        )
    )


def wait_status(version_id: int, statuses: set[str], timeout: float, what: str) -> ModelVersion:
    return wait_for(
        lambda: ModelVersion.objects.filter(pk=version_id, status__in=statuses).first(),
        timeout=timeout,
        what=what,
    )


def test_a_worker_killed_mid_job_loses_nothing_and_exactly_one_report_exists(
    workers, api, owner, tmp_path
):
    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    hold = tmp_path / "hold"
    hold.touch()
    first = workers.start(
        "doomed", app="tests.releases.holding_worker", MODELGATE_TEST_HOLD_FILE=str(hold)
    )
    artifact, csv = _pipeline_and_csv()
    response = mf.upload(api(owner), artifact, evaluation_data=csv, target="label")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(registered_model=model, version=1)
    version = wait_status(version.pk, {VersionStatus.VALIDATING}, 60, "the worker to start it")
    delivered_at = time.monotonic()
    task_id = version.validation_task_id
    assert task_id

    first.send_signal(signal.SIGKILL)  # mid-job: no chance to acknowledge, retry or clean up
    first.wait()
    hold.unlink()
    assert ModelVersion.objects.get(pk=version.pk).status == VersionStatus.VALIDATING

    redis = not settings.CELERY_BROKER_IS_FILESYSTEM
    if redis:
        # Redis keeps the unacknowledged message and hands it out again once the visibility
        # timeout has passed: the next worker to start restores it at once.
        time.sleep(max(0.0, 61 - (time.monotonic() - delivered_at)))
    else:
        # The filesystem broker removed the message when it was delivered; the sweeper (run by
        # beat every few minutes; here directly) finds the stuck version and queues it again.
        assert services.model_versions_sweep_stuck(after_seconds=0).requeued == [version.pk]
    second = workers.start("survivor")
    version = wait_status(version.pk, FINAL, 120, "the second worker to finish it")
    assert version.status == VersionStatus.VALIDATED, version.validation_error
    assert version.validation_report["stage"] == "done"
    assert 0.8 < version.validation_report["evaluation"]["metrics"]["accuracy"] <= 1.0

    time.sleep(2)  # nothing else is still coming
    # The validation's own trail: the compiled-form check is a job of its own that follows it.
    actions = [
        e.action
        for e in events(version)
        if not e.action.startswith("version.compiled_check")
        and e.action != "version.serving_runtime"
    ]
    assert actions.count("version.validated") == 1
    assert "version.validation_failed" not in actions
    if redis:
        restarted = [e for e in events(version) if e.action == "version.validation_restarted"]
        assert [e.payload["task_id"] for e in restarted] == [task_id]  # the same delivery
        assert actions == [
            "version.upload",
            "version.validation_started",
            "version.validation_restarted",
            "version.validated",
        ]
    else:
        assert actions == [
            "version.upload",
            "version.validation_started",
            "version.validation_swept",
            "version.validation_started",
            "version.validated",
        ]
    assert second.poll() is None


def _slow_knn_and_csv(rows: int) -> tuple[bytes, bytes]:
    """Brute-force nearest neighbours over 100,000 stored points: predicting ``rows`` rows takes
    seconds per 20,000 rows here, far past a sandbox deadline of a few seconds."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(5)]
    train = pd.DataFrame(rng.normal(size=(100_000, 5)), columns=columns)
    model = KNeighborsClassifier(algorithm="brute").fit(train, rng.integers(0, 2, 100_000))
    evaluation = pd.DataFrame(rng.normal(size=(rows, 5)), columns=columns)
    csv = evaluation.assign(label=rng.integers(0, 2, rows)).to_csv(index=False).encode()
    return sio.dumps(model), csv


def test_a_model_that_hangs_hits_the_sandbox_deadline_through_the_worker(
    workers, api, owner, tmp_path
):
    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    workers.start("deadline", MODELGATE_SANDBOX_WALL_SECONDS="5")
    artifact, csv = _slow_knn_and_csv(60_000)
    started = time.monotonic()
    response = mf.upload(api(owner), artifact, evaluation_data=csv, target="label")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(registered_model=model, version=1)
    version = wait_status(version.pk, FINAL, 60, "the deadline to end the validation")
    assert version.status == VersionStatus.VALIDATION_FAILED
    assert version.validation_report["error_code"] == "deadline"
    assert "did not finish within 5 s" in version.validation_error
    assert time.monotonic() - started < 45  # ended by the sandbox, not by Celery's limits
    failed = AuditEvent.objects.get(model_version=version, action="version.validation_failed")
    assert failed.payload["code"] == "deadline"
