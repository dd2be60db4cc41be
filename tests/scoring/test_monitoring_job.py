"""The monitoring job: reference frozen for the served version, the log aggregated into hourly
rows incrementally, drift equal to scipy's on the logged data, alerts once per condition."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy import stats

from releases.models import WEBHOOK_EVENTS, AuditEvent, Webhook, WebhookDelivery
from scoring import selectors, services
from scoring.models import (
    Alert,
    AlertStatus,
    HourlyFeature,
    HourlyPredictions,
    MonitoringReference,
)
from scoring.selectors.monitoring import Window
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version

pytestmark = pytest.mark.django_db


def test_job_freezes_the_reference_and_aggregates_each_row_once(risk_model, owner):
    version, _ = served_version(risk_model, owner)
    hour = past_hour(3)
    log_hour(version, hour, frame(np.random.default_rng(1), 300))
    services.monitor_run(now=hour + timedelta(minutes=30, seconds=10))
    services.monitor_run(now=hour + timedelta(hours=2))
    services.monitor_run(now=hour + timedelta(hours=2))  # nothing new: nothing counted twice
    assert MonitoringReference.objects.get(model_version=version).rows == 800
    row = HourlyPredictions.objects.get(model_version=version, hour=hour)
    assert row.rows == 300 and row.classes == {"0": 150, "1": 150}
    a = HourlyFeature.objects.get(model_version=version, hour=hour, feature="a")
    assert a.rows == 300 and a.missing == 0
    assert AuditEvent.objects.filter(action="monitoring.reference_frozen").count() == 1


def test_shifted_feature_is_flagged_with_scipys_statistics(risk_model, owner):
    version, reference = served_version(risk_model, owner)
    hour = past_hour(2)
    logged = frame(np.random.default_rng(2), 600, shift_b=0.6)
    half = timedelta(minutes=29)
    log_hour(version, hour, logged.iloc[:300], span=half)
    services.monitor_run(now=hour + timedelta(minutes=30))  # half the hour, then the rest
    log_hour(version, hour + timedelta(minutes=31), logged.iloc[300:], span=half)
    now = hour + timedelta(hours=1, minutes=1)
    services.monitor_run(now=now)
    report = selectors.drift_report(model_version=version, window=Window(24, "hours"), now=now)
    by_name = {r.feature: r for r in report.features}
    assert [r.feature for r in report.features if r.drifted] == ["b"]
    assert report.current_rows == 600 and report.reference_rows == 800
    for name in ("a", "b", "c"):
        expected = stats.ks_2samp(reference[name], logged[name])
        assert by_name[name].test == "ks"
        assert by_name[name].statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert by_name[name].p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert by_name["b"].mean == pytest.approx(logged["b"].mean())
    assert by_name["b"].std == pytest.approx(logged["b"].std(ddof=0))
    assert report.drift_share == 0.25 and not report.dataset_drifted


def test_a_feature_turning_missing_raises_one_alert_until_it_resolves(risk_model, owner):
    version, _ = served_version(risk_model, owner)
    Webhook.objects.create(
        registered_model=risk_model, url="https://hooks.example.com/in",
        events=list(WEBHOOK_EVENTS), secret_encrypted="unused",
    )  # fmt: skip
    rng = np.random.default_rng(3)
    start = past_hour(6)
    for i in range(3):  # three hours in which "a" is never sent
        log_hour(version, start + timedelta(hours=i), frame(rng, 200), missing=("a",))
        services.monitor_run(now=start + timedelta(hours=i + 1, seconds=10))
    alerts = Alert.objects.filter(model_version=version, kind="missing")
    assert alerts.count() == 1
    alert = alerts.get()
    assert alert.feature == "a" and alert.status == AlertStatus.OPEN and alert.value == 1.0
    assert AuditEvent.objects.filter(action="monitoring.alert_open").count() == 1
    assert WebhookDelivery.objects.filter(event="model.alert").count() == 1

    log_hour(version, start + timedelta(hours=3), frame(rng, 200))
    services.monitor_run(now=start + timedelta(hours=4, seconds=10))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert WebhookDelivery.objects.filter(event="model.alert_resolved").count() == 1

    log_hour(version, start + timedelta(hours=4), frame(rng, 200), missing=("a",))
    services.monitor_run(now=start + timedelta(hours=5, seconds=10))
    assert alerts.count() == 2  # a new condition after the first resolved


def test_no_alert_on_unshifted_traffic_of_the_same_size(risk_model, owner):
    version, _ = served_version(risk_model, owner)
    rng = np.random.default_rng(4)
    start = past_hour(4)
    for i in range(3):
        log_hour(version, start + timedelta(hours=i), frame(rng, 800))
        services.monitor_run(now=start + timedelta(hours=i + 1, seconds=10))
    assert not Alert.objects.exists()
    report = selectors.drift_report(
        model_version=version, window=Window(1, "hours"), now=start + timedelta(hours=3)
    )
    assert not report.dataset_drifted and report.current_rows == 800


def test_low_confidence_and_live_accuracy_alerts(risk_model, owner):
    from scoring.models import GroundTruth

    version, _ = served_version(risk_model, owner)
    hour = past_hour(2)
    rows = log_hour(version, hour, frame(np.random.default_rng(5), 200), confidence=0.55)
    for i, prediction in enumerate(rows[:50]):
        GroundTruth.objects.create(
            prediction=prediction, registered_model=risk_model, model_version=version,
            label=0, source="queue", sampled=True, correct=i < 20,
            predicted_at=prediction.created_at, labeled_at=hour + timedelta(minutes=50),
            labeled_by="user:1",
        )  # fmt: skip
    services.monitor_run(now=hour + timedelta(hours=1, minutes=1))
    kinds = set(Alert.objects.values_list("kind", flat=True))
    assert kinds == {"low_confidence", "accuracy"}
    stats_ = selectors.prediction_stats(
        model_version=version, hours=1, now=hour + timedelta(hours=1, minutes=1)
    )
    assert stats_.live_accuracy == pytest.approx(20 / 50) and stats_.low_confidence_rate == 1.0


def test_unseen_and_missing_categories_and_out_of_range_numbers_are_counted(risk_model, owner):
    version, _ = served_version(risk_model, owner)
    hour = past_hour(2)
    inputs = frame(np.random.default_rng(6), 100)
    inputs.loc[:9, "city"] = "madrid"  # never in the reference
    inputs.loc[10:14, "city"] = None
    inputs.loc[15:19, "c"] = 1000.0  # the reference is uniform on [0, 10)
    log_hour(version, hour, inputs)
    services.monitor_run(now=hour + timedelta(hours=1, seconds=10))
    city = HourlyFeature.objects.get(model_version=version, feature="city")
    assert (city.rows, city.missing, city.unseen) == (100, 5, 10)
    assert city.categories["(unseen)"] == 10 and sum(city.categories.values()) == 95
    c = HourlyFeature.objects.get(model_version=version, feature="c")
    assert (c.missing, c.out_of_range, c.hist[-1]) == (0, 5, 5)
    report = selectors.drift_report(
        model_version=version, window=Window(50, "predictions"), now=hour + timedelta(hours=2)
    )
    assert report.current_rows == 50
    assert {r.feature: r.unseen_rate for r in report.features}["city"] == 0.0


def test_beat_runs_the_monitoring_task_every_minute(settings, risk_model, owner):
    from scoring.tasks import monitor

    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "scoring.monitor"
    )
    assert entry["schedule"] == 60.0
    version, _ = served_version(risk_model, owner)
    result = monitor.apply().get()
    assert result["versions"] == [version.pk] and result["references"] == 1
