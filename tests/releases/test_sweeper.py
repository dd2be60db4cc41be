"""The sweeper: versions whose validation job was lost are queued again (bounded, audited), and
an upload made while the broker is down still succeeds and is picked up later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from releases import services
from releases.models import AuditEvent, ModelVersion, VersionStatus
from tests.factories import ModelVersionFactory


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Version ids handed to the broker (the task's ``delay``), in order."""
    from releases.tasks import validate_model_version

    sent: list[int] = []
    monkeypatch.setattr(
        validate_model_version, "delay", lambda *, version_id: sent.append(version_id)
    )
    return sent


def stuck(model: Any, status: str, *, idle_seconds: float, **fields: Any) -> ModelVersion:
    version = ModelVersionFactory(registered_model=model, status=status, **fields)
    ModelVersion.objects.filter(pk=version.pk).update(
        status_changed_at=timezone.now() - timedelta(seconds=idle_seconds)
    )
    return version


def actions(version: ModelVersion) -> list[str]:
    return list(
        AuditEvent.objects.filter(model_version=version)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_sweeper_requeues_a_version_stuck_validating_with_an_audit_row(
    risk_model, queued, settings, django_capture_on_commit_callbacks
):
    version = stuck(
        risk_model,
        VersionStatus.VALIDATING,
        idle_seconds=settings.MODELGATE_SWEEP_AFTER_SECONDS + 60,
        validation_report={"stage": "evaluating"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = services.model_versions_sweep_stuck()
    assert result.requeued == [version.pk] and result.failed == []
    assert queued == [version.pk]
    version.refresh_from_db()
    assert version.status == VersionStatus.PENDING  # the queued task starts it cleanly
    event = AuditEvent.objects.get(model_version=version, action="version.validation_swept")
    assert event.actor is None
    assert event.payload["from"] == "validating"
    assert event.payload["stage"] == "evaluating"
    assert event.payload["attempt"] == 1
    assert event.payload["idle_seconds"] >= settings.MODELGATE_SWEEP_AFTER_SECONDS


def test_sweeper_requeues_a_stuck_pending_version_once_per_period(
    risk_model, queued, settings, django_capture_on_commit_callbacks
):
    version = stuck(
        risk_model, VersionStatus.PENDING, idle_seconds=settings.MODELGATE_SWEEP_AFTER_SECONDS + 1
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.model_versions_sweep_stuck().requeued == [version.pk]
        # The next beat comes minutes later: the re-queue restarted the version's clock.
        assert services.model_versions_sweep_stuck().requeued == []
    assert queued == [version.pk]
    assert actions(version) == ["version.validation_swept"]


def test_sweeper_leaves_recent_finished_and_trust_waiting_versions_alone(
    risk_model, queued, settings, django_capture_on_commit_callbacks
):
    long_ago = settings.MODELGATE_SWEEP_AFTER_SECONDS * 2
    stuck(risk_model, VersionStatus.VALIDATING, idle_seconds=60)  # still running
    stuck(risk_model, VersionStatus.PENDING, idle_seconds=60)
    stuck(risk_model, VersionStatus.VALIDATED, idle_seconds=long_ago)
    stuck(risk_model, VersionStatus.VALIDATION_FAILED, idle_seconds=long_ago)
    waiting = stuck(
        risk_model,
        VersionStatus.PENDING,
        idle_seconds=long_ago,
        untrusted_types=["numpy.random.RandomState"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = services.model_versions_sweep_stuck()
    assert result.requeued == [] and result.failed == []
    assert queued == []
    assert actions(waiting) == []


def test_a_version_reset_too_often_ends_validation_failed_with_the_reason(
    risk_model, queued, settings, django_capture_on_commit_callbacks
):
    settings.MODELGATE_VALIDATION_MAX_RESETS = 2
    version = stuck(risk_model, VersionStatus.VALIDATING, idle_seconds=10)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            assert services.model_versions_sweep_stuck(after_seconds=0).requeued == [version.pk]
        result = services.model_versions_sweep_stuck(after_seconds=0)
    assert result.failed == [version.pk]
    assert queued == [version.pk, version.pk]
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATION_FAILED
    assert "started 3 times and never finished" in version.validation_error
    assert version.validation_report["error_code"] == "too_many_attempts"
    assert actions(version)[-3:] == [
        "version.validation_swept",
        "version.validation_swept",
        "version.validation_failed",
    ]


def test_the_beat_task_sweeps(risk_model, queued, django_capture_on_commit_callbacks, settings):
    from releases.tasks import sweep_stuck_validations

    version = stuck(
        risk_model, VersionStatus.PENDING, idle_seconds=settings.MODELGATE_SWEEP_AFTER_SECONDS + 5
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = sweep_stuck_validations.apply().get()
    assert outcome == {"requeued": [version.pk], "failed": []}
    assert queued == [version.pk]


def test_beat_runs_the_sweeper_every_interval(settings):
    from webapp.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-stuck-validations"]
    assert entry["task"] == "releases.sweep_stuck_validations"
    assert entry["schedule"] == settings.MODELGATE_SWEEP_INTERVAL_SECONDS
    assert "releases.sweep_stuck_validations" in app.tasks
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE


def test_sweeping_sooner_than_a_running_task_may_take_is_refused_at_startup():
    import os
    import subprocess
    import sys

    env = {**os.environ, "MODELGATE_SWEEP_AFTER_SECONDS": "600", "CELERY_TASK_TIME_LIMIT": "1800"}
    proc = subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
         "'webapp.settings'; django.setup()"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Need MODELGATE_SWEEP_AFTER_SECONDS > CELERY_TASK_TIME_LIMIT" in proc.stderr


# --- The same task delivered again ------------------------------------------------------------


def test_a_redelivered_task_restarts_its_version_and_a_duplicate_does_not(risk_model):
    version = ModelVersionFactory(registered_model=risk_model, status=VersionStatus.PENDING)
    assert services.model_version_start_validation(version_id=version.pk, task_id="t-1")
    services.model_version_report_stage(version_id=version.pk, stage="evaluating")

    # Another task for the same version (e.g. queued by the sweeper) finds it owned: skipped.
    assert services.model_version_start_validation(version_id=version.pk, task_id="t-2") is None
    # The same task again: its worker died before acknowledging it, so it starts over.
    restarted = services.model_version_start_validation(version_id=version.pk, task_id="t-1")
    assert restarted is not None
    assert restarted.validation_report == {"stage": "loading model"}
    event = AuditEvent.objects.get(model_version=version, action="version.validation_restarted")
    assert event.payload == {"task_id": "t-1", "attempt": 1, "stage": "evaluating"}


def test_a_task_that_keeps_killing_its_worker_stops_after_the_bound(risk_model, settings):
    settings.MODELGATE_VALIDATION_MAX_RESETS = 3
    version = ModelVersionFactory(registered_model=risk_model, status=VersionStatus.PENDING)
    assert services.model_version_start_validation(version_id=version.pk, task_id="t-1")
    for _ in range(3):
        assert services.model_version_start_validation(version_id=version.pk, task_id="t-1")
    assert services.model_version_start_validation(version_id=version.pk, task_id="t-1") is None
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATION_FAILED
    assert "started 4 times and never finished" in version.validation_error
    assert actions(version).count("version.validation_restarted") == 3


# --- Broker down at upload --------------------------------------------------------------------


@pytest.fixture
def broker_down(monkeypatch):
    """Point Celery's producer at a port nothing listens on, as when Redis is down."""
    from webapp.celery import app

    dead = "redis://127.0.0.1:9/0"
    monkeypatch.setenv("CELERY_BROKER_URL", dead)  # Celery reads it before its own settings
    keys = ("broker_url", "broker_write_url", "broker_transport_options")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(broker_url=dead, broker_write_url=None, broker_transport_options={})
    app._pool = app.amqp._producer_pool = None  # built again, for the dead broker, on first use
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool = app.amqp._producer_pool = None


def test_upload_while_the_broker_is_down_is_201_and_the_sweeper_queues_it_later(
    api, owner, risk_model, media_root, broker_down, caplog, settings, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    from tests.releases import model_files as mf

    with django_capture_on_commit_callbacks(execute=True):
        response = mf.upload(api(owner), mf.skops_logistic_bytes())
    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(registered_model=risk_model)
    assert version.status == VersionStatus.PENDING
    assert "could not queue validation of version" in caplog.text

    # The broker is back; a while later the sweeper finds the pending version and queues it.
    from releases.tasks import validate_model_version

    sent: list[int] = []
    monkeypatch.setattr(
        validate_model_version, "delay", lambda *, version_id: sent.append(version_id)
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        status_changed_at=timezone.now() - timedelta(seconds=settings.MODELGATE_SWEEP_AFTER_SECONDS)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.model_versions_sweep_stuck().requeued == [version.pk]
    assert sent == [version.pk]
