"""Monitoring API: drift of a served model, alerts and their acknowledgement, thresholds."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from scipy import stats

from releases.models import AuditEvent
from scoring import services
from scoring.models import Alert, AlertStatus
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifting(risk_model, owner):
    version, reference = served_version(risk_model, owner)
    hour = past_hour(1)
    logged = frame(np.random.default_rng(8), 400, shift_b=0.7)
    log_hour(version, hour, logged, span=timedelta(minutes=40))
    services.monitor_run(now=timezone.now())
    return version, reference, logged


def test_drift_api_names_the_shifted_feature_first_with_scipys_statistic(api, owner, drifting):
    _, reference, logged = drifting
    response = api(owner).get("/api/v1/models/credit-risk/drift/?window=24h")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["features"][0]["feature"] == "b" and body["features"][0]["drifted"]
    assert [f["feature"] for f in body["features"] if f["drifted"]] == ["b"]
    expected = stats.ks_2samp(reference["b"], logged["b"])
    assert body["features"][0]["test"] == "ks"
    assert body["features"][0]["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert body["current_rows"] == 400 and body["reference_rows"] == 800
    assert body["window"] == "24h" and body["drift_share"] == 0.25
    assert set(body["features"][0]) >= {"feature", "test", "statistic", "p_value", "threshold"}


def test_drift_api_window_of_latest_predictions_reads_those_rows(api, owner, drifting):
    version, reference, logged = drifting
    url = f"/api/v1/models/credit-risk/drift/?window=100&version={version.version}"
    body = api(owner).get(url).json()
    assert body["window"] == "100" and body["current_rows"] == 100
    b = next(f for f in body["features"] if f["feature"] == "b")
    expected = stats.ks_2samp(reference["b"], logged["b"].iloc[-100:])
    assert b["statistic"] == pytest.approx(expected.statistic)


@pytest.mark.parametrize("window", ["7d", "0", "0h", "721h", "abc", "100001"])
def test_drift_api_refuses_a_bad_window_naming_it(api, owner, drifting, window):
    response = api(owner).get(f"/api/v1/models/credit-risk/drift/?window={window}")
    assert response.status_code == 400
    assert response.json()["field"] == "window"


def test_drift_api_unknown_version_is_404_naming_it(api, owner, drifting):
    response = api(owner).get("/api/v1/models/credit-risk/drift/?version=999")
    assert response.status_code == 404 and response.json()["field"] == "version"


def test_other_team_cannot_see_drift_or_alerts(api, outsider, owner, drifting):
    version, _, _ = drifting
    alert = Alert.objects.create(
        registered_model=version.registered_model, model_version=version, kind="drift",
        value=0.5, threshold=0.5, message="m", opened_at=timezone.now(),
    )  # fmt: skip
    client = api(outsider)
    assert client.get("/api/v1/models/credit-risk/drift/").status_code == 404
    assert client.get("/api/v1/alerts/").json()["results"] == []
    response = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_acknowledge_alert_by_the_team_is_audited_and_idempotent(api, owner, labeler, drifting):
    version, _, _ = drifting
    alert = Alert.objects.create(
        registered_model=version.registered_model, model_version=version, kind="missing",
        feature="a", value=1.0, threshold=0.1, message="a missing", opened_at=timezone.now(),
    )  # fmt: skip
    assert api(labeler).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    listed = api(owner).get("/api/v1/alerts/?status=active").json()["results"]
    assert [a["id"] for a in listed] == [alert.pk]
    for _ in range(2):
        response = api(owner).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
        assert response.status_code == 200
        assert response.json()["status"] == "acknowledged"
        assert response.json()["acknowledged_by"] == "dana"
    assert AuditEvent.objects.filter(action="monitoring.alert_acknowledge").count() == 1
    assert api(owner).get("/api/v1/alerts/?status=bogus").status_code == 400


def test_resolved_alert_cannot_be_acknowledged(api, owner, drifting):
    version, _, _ = drifting
    alert = Alert.objects.create(
        registered_model=version.registered_model, model_version=version, kind="drift",
        value=0.5, threshold=0.5, message="m", opened_at=timezone.now(),
        status=AlertStatus.RESOLVED,
    )  # fmt: skip
    assert api(owner).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 409


def test_thresholds_change_through_an_audited_service(api, owner, labeler, outsider, risk_model):
    url = "/api/v1/models/credit-risk/monitoring/settings/"
    assert api(owner).get(url).json()["drift_share"] == 0.5
    response = api(owner).patch(url, {"drift_share": 1.5}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "drift_share"
    assert api(labeler).patch(url, {"drift_share": 0.3}, format="json").status_code == 403
    assert api(outsider).patch(url, {"drift_share": 0.3}, format="json").status_code == 404
    response = api(owner).patch(url, {"drift_share": 0.3, "window_hours": 6}, format="json")
    assert response.status_code == 200 and response.json()["window_hours"] == 6
    event = AuditEvent.objects.get(action="monitoring.settings_update")
    assert event.payload["before"]["drift_share"] == 0.5
    assert event.payload["after"]["drift_share"] == 0.3
