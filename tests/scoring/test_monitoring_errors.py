"""Each version's error rate: every predict request that reached it is counted by status off
the request path, the dashboard and overview show the share that failed, an alert opens once
when it crosses the model's threshold (even when no request succeeded), and alerts of versions
that no longer serve are resolved instead of staying open forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from releases.models import AuditEvent, StageAssignment
from scoring import selectors, services
from scoring.models import Alert, AlertStatus, HourlyRequests, MonitoringSettings
from scoring.prediction_log import PredictionLog, prediction_log
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import bodies, post, sample

pytestmark = pytest.mark.django_db

PREDICT = "/api/v1/models/credit-risk/predict/"


def send(key: str, *, good: int, bad: int) -> None:
    for _ in range(good):
        assert post(PREDICT, bodies(sample(2))["instances"], key).status_code == 200
    for _ in range(bad):
        response = post(PREDICT, {"instances": [{"not_a_feature": 1}]}, key)
        assert response.status_code == 400, response.content


def counts(version: Any) -> dict[int, int]:
    return dict(HourlyRequests.objects.filter(model_version=version).values_list("status", "count"))


def test_failed_requests_give_the_error_rate_and_one_alert(
    served: Any, app_key: str, owner: Any
) -> None:
    MonitoringSettings.objects.create(
        registered_model=served.registered_model, min_rows=5, max_error_rate=0.2
    )
    send(app_key, good=6, bad=4)
    # A name nobody serves reaches no version: it is not this version's error.
    assert post("/api/v1/models/nope/predict/", {"instances": []}, app_key).status_code == 404
    prediction_log.flush()
    assert counts(served) == {200: 6, 400: 4}

    services.monitor_run(now=timezone.now())
    services.monitor_run(now=timezone.now())  # the same ongoing condition: no second alert
    alert = Alert.objects.get(model_version=served, kind="error_rate")
    assert alert.status == AlertStatus.OPEN and alert.value == pytest.approx(0.4)
    assert "40.0% of 10 requests failed" in alert.message
    stats = selectors.prediction_stats(model_version=served, hours=1)
    assert (stats.requests, stats.errors, stats.error_rate) == (10, 4, pytest.approx(0.4))
    assert selectors.hourly_series(model_version=served)["error_rate"][-1] == pytest.approx(0.4)

    client = Client()
    client.force_login(owner)
    page = client.get(reverse("monitoring-dashboard", args=[served.registered_model.name]))
    assert page.status_code == 200
    assert "4 of 10 requests answered 4xx/5xx" in page.content.decode()
    assert "40.0%" in page.content.decode()


def test_a_version_whose_every_request_fails_still_alerts_and_is_not_idle(
    served: Any, app_key: str, owner: Any
) -> None:
    MonitoringSettings.objects.create(registered_model=served.registered_model, min_rows=5)
    send(app_key, good=0, bad=6)
    prediction_log.flush()
    services.monitor_run(now=timezone.now())
    assert Alert.objects.filter(model_version=served, kind="error_rate").count() == 1
    (row,) = selectors.served_versions(user=owner)
    assert row.health == "alerting" and row.error_rate == 1.0


def test_counts_from_several_serving_processes_add_up(served: Any) -> None:
    first, second = PredictionLog(), PredictionLog()
    for log, statuses in ((first, [200, 200, 400]), (second, [200, 413])):
        for status in statuses:
            log.count_request(
                registered_model_id=served.registered_model_id,
                model_version_id=served.pk,
                status=status,
            )
    first.flush()
    second.flush()
    first.flush()  # nothing new: nothing counted twice
    assert counts(served) == {200: 3, 400: 1, 413: 1}


def test_alerts_of_a_version_that_no_longer_serves_are_resolved(
    served: Any, risk_model: Any, owner: Any
) -> None:
    retired = serve(risk_model, 2, model=mf.pipeline_model(), uploaded_by=owner)
    now = timezone.now()
    stale, live = (
        Alert.objects.create(
            registered_model=risk_model,
            model_version=version,
            kind="drift",
            value=0.9,
            threshold=0.5,
            message="drift",
            opened_at=now - timedelta(days=3),
        )
        for version in (retired, served)
    )
    assert not StageAssignment.objects.filter(model_version=retired).exists()
    run = services.monitor_run(now=now)
    assert run.resolved == 1
    stale.refresh_from_db()
    live.refresh_from_db()
    assert stale.status == AlertStatus.RESOLVED and stale.resolved_at == now
    assert live.status == AlertStatus.OPEN  # its version still serves; no data: left alone
    event = AuditEvent.objects.get(action="monitoring.alert_resolve")
    assert event.payload["reason"] == "version no longer served"
