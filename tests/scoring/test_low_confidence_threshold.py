"""One low-confidence threshold per model: the relabel policy's when it ranks by least
confidence (the notion that fills its queue), else MODELGATE_LOW_CONFIDENCE_THRESHOLD. The
/metrics counter and monitoring count with it; monitoring settings may still name their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from releases.models import Stage
from scoring import relabel_routing, selectors, services
from scoring.models import MonitoringSettings
from scoring.relabel_routing import low_confidence_threshold
from tests.releases import model_files as mf
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version
from tests.scoring.serving import serve
from tests.scoring.test_observability import scrape, series
from tests.scoring.test_predict import URL, bodies, key_for, post, sample

pytestmark = pytest.mark.django_db


def policy(owner: Any, model: Any, **changes: Any) -> None:
    """Save a policy change; the service drops the cached policy on commit, which a test's
    transaction never reaches, so drop it here."""
    services.relabel_policy_update(actor=owner, registered_model=model, changes=changes)
    relabel_routing.forget(model.pk)


def test_without_a_saved_policy_the_setting_is_the_threshold(risk_model, settings):
    settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD = 0.7
    assert low_confidence_threshold(risk_model.pk) == 0.7


def test_a_least_confidence_policy_sets_it_and_other_strategies_do_not(risk_model, owner, settings):
    settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD = 0.7
    policy(owner, risk_model, threshold=0.85)
    assert low_confidence_threshold(risk_model.pk) == 0.85
    policy(owner, risk_model, strategy="margin")
    assert low_confidence_threshold(risk_model.pk) == 0.7  # a margin is not a confidence


def test_the_metrics_counter_counts_below_the_policys_threshold(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    model = mf.pipeline_model()
    serve(risk_model, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION)
    rows = sample(40)
    confidence = model.predict_proba(rows).max(axis=1)
    threshold = float(np.median(confidence))
    settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD = 0.0  # would count nothing
    policy(owner, risk_model, threshold=threshold)
    expected = int((confidence < threshold).sum())
    assert 0 < expected < len(rows)

    assert post(URL, bodies(rows)["instances"], key_for(owner)).status_code == 200

    counted = series(scrape(), "modelgate_low_confidence_predictions_total", model="credit-risk")
    assert counted == expected


def test_monitoring_counts_with_the_same_threshold_unless_its_settings_name_one(risk_model, owner):
    version, _ = served_version(risk_model, owner)
    hour = past_hour(2)
    log_hour(version, hour, frame(np.random.default_rng(4), 120), confidence=0.75)
    services.monitor_run(now=hour + timedelta(hours=1, minutes=1))
    now = hour + timedelta(hours=1, minutes=1)

    def stats():
        return selectors.prediction_stats(model_version=version, hours=3, now=now)

    assert (stats().low_confidence_below, stats().low_confidence_rate) == (0.6, 0.0)
    policy(owner, risk_model, threshold=0.8)
    assert (stats().low_confidence_below, stats().low_confidence_rate) == (0.8, 1.0)
    MonitoringSettings.objects.create(registered_model=risk_model, low_confidence=0.7)
    assert (stats().low_confidence_below, stats().low_confidence_rate) == (0.7, 0.0)
