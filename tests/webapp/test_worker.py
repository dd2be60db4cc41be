"""A real Celery worker process picks tasks off the configured broker (filesystem or Redis)."""

from __future__ import annotations

import os
import secrets

import pytest
from django.db import transaction

from releases.models import AuditEvent
from releases.tasks import worker_ping
from tests.conftest import wait_for


@pytest.mark.worker
def test_task_enqueued_on_commit_runs_in_a_separate_worker_process(
    transactional_db, celery_worker_process
):
    token = secrets.token_hex(8)
    with transaction.atomic():
        transaction.on_commit(lambda: worker_ping.delay(token=token))
    event = wait_for(
        lambda: AuditEvent.objects.filter(action="worker.ping", payload__token=token).first(),
        what="the worker to record the ping",
    )
    assert event.payload["pid"] != os.getpid()
    assert event.payload["pid"] == celery_worker_process.pid


def test_celery_is_configured_for_at_least_once_delivery(settings):
    from webapp.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    if not settings.CELERY_BROKER_IS_FILESYSTEM:
        visibility = app.conf.broker_transport_options["visibility_timeout"]
        assert app.conf.task_time_limit < visibility
