"""Monitoring pages: the overview's health at a glance, a model's dashboard, alerts on the home
page and the model page, acknowledging from a page."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from scoring import services
from scoring.models import Alert, AlertStatus
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version

pytestmark = pytest.mark.django_db


def signed_in(user, password) -> Client:
    client = Client()
    assert client.login(username=user.username, password=password)
    return client


@pytest.fixture
def drifting(risk_model, owner):
    version, _ = served_version(risk_model, owner)
    log_hour(
        version, past_hour(0) - timedelta(minutes=50),
        frame(np.random.default_rng(9), 400, shift_b=3.0).assign(a=5.0, c=50.0),
        span=timedelta(minutes=30),
    )  # fmt: skip
    services.monitor_run(now=timezone.now())
    return version


def test_overview_shows_each_served_version_with_a_health_badge(owner, password, drifting):
    page = signed_in(owner, password).get("/monitoring/").content.decode()
    assert "Are my served models healthy?" in page
    assert "credit-risk v" in page
    assert 'class="badge health-alerting">alerting' in page  # the drift alert opened
    assert "Drift share" in page


def test_overview_of_another_team_shows_nothing_of_ours(outsider, password, drifting):
    page = signed_in(outsider, password).get("/monitoring/").content.decode()
    assert "credit-risk" not in page
    assert "No model of yours is served yet" in page


def test_dashboard_lists_features_worst_first_with_charts_data(owner, password, drifting):
    response = signed_in(owner, password).get("/models/credit-risk/monitoring/?window=24h")
    assert response.status_code == 200
    page = response.content.decode()
    assert "is it still healthy?" in page
    table = page[page.index('id="drift-table"') :]
    assert table.index('data-feature="a"') < table.index('data-feature="city"')
    assert 'id="monitoring-data"' in page and '"histograms"' in page


def test_dashboard_refuses_a_bad_window_and_hides_other_teams(owner, outsider, password, drifting):
    response = signed_in(owner, password).get("/models/credit-risk/monitoring/?window=nope")
    assert response.status_code == 400
    assert "is not a window" in response.content.decode()
    assert signed_in(outsider, password).get("/models/credit-risk/monitoring/").status_code == 404


def test_home_and_model_page_list_open_alerts_and_acknowledge_works(owner, password, drifting):
    alert = Alert.objects.get(kind="drift")
    client = signed_in(owner, password)
    home = client.get("/").content.decode()
    assert "Open alerts on your models (" in home and alert.message in home
    assert alert.message in client.get("/models/credit-risk/").content.decode()
    response = client.post(
        f"/monitoring/alerts/{alert.pk}/acknowledge/", {"next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/monitoring/alerts/"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == owner


def test_outsider_cannot_acknowledge_from_a_page(outsider, password, drifting):
    alert = Alert.objects.get(kind="drift")
    client = signed_in(outsider, password)
    assert client.post(f"/monitoring/alerts/{alert.pk}/acknowledge/").status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_thresholds_form_saves_through_the_audited_service(owner, labeler, password, drifting):
    from releases.models import AuditEvent
    from scoring.models import MonitoringSettings

    url = "/models/credit-risk/monitoring/thresholds/"
    data = {
        "numeric_test": "psi", "categorical_test": "auto", "drift_share": "0.4",
        "missing_rate": "0.2", "low_confidence": "0.5", "low_confidence_rate": "0.3",
        "min_accuracy": "0.7", "max_error_rate": "0.1", "window_hours": "3", "min_rows": "50",
    }  # fmt: skip
    refused = signed_in(owner, password).post(url, {**data, "drift_share": "7"}, follow=True)
    assert (
        "Drift share: Ensure this value is less than or equal to 1.0." in refused.content.decode()
    )
    assert not MonitoringSettings.objects.exists()
    assert signed_in(labeler, password).post(url, data).status_code == 302
    assert not MonitoringSettings.objects.exists()  # a labeler may not; the service said so
    response = signed_in(owner, password).post(url, data)
    assert response.status_code == 302
    saved = MonitoringSettings.objects.get()
    assert (saved.numeric_test, saved.drift_share, saved.window_hours) == ("psi", 0.4, 3)
    assert saved.max_error_rate == 0.1
    assert AuditEvent.objects.filter(action="monitoring.settings_update").count() == 1


def test_a_served_version_without_reference_or_traffic_says_so(owner, password, risk_model):
    from django.utils import timezone as tz

    from releases.models import StageAssignment
    from tests.factories import ModelVersionFactory
    from tests.scoring.monitoring import SIGNATURE

    version = ModelVersionFactory(
        registered_model=risk_model, status="approved", signature=SIGNATURE
    )
    StageAssignment.objects.create(
        registered_model=risk_model, stage="staging", model_version=version, assigned_at=tz.now()
    )
    services.monitor_run(now=tz.now())
    client = signed_in(owner, password)
    assert (
        'class="badge health-no_traffic">no traffic' in client.get("/monitoring/").content.decode()
    )
    page = client.get("/models/credit-risk/monitoring/").content.decode()
    assert "No reference to compare with" in page and "No predictions logged" in page
    body = client.get("/api/v1/models/credit-risk/drift/")
    assert body.status_code == 200
    assert body.json()["has_reference"] is False and body.json()["features"] == []
