"""One live accuracy: the monitoring dashboard's headline, the accuracy alert, the overview and
the live-accuracy API (model and version pages) read the same labels the same way, so for the
same window they report the same figure, even before the job has recounted the hourly rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from scoring import selectors, services
from scoring.models import GroundTruth, HourlyPredictions, MonitoringSettings
from scoring.selectors.monitoring import Window
from scoring.services.alerts import conditions_of
from tests.scoring.monitoring import frame, log_hour, past_hour, served_version

pytestmark = pytest.mark.django_db


def label(prediction: Any, *, correct: bool, sampled: bool, at: Any) -> None:
    GroundTruth.objects.create(
        prediction=prediction, registered_model_id=prediction.registered_model_id,
        model_version=prediction.model_version, label=0, source="queue", sampled=sampled,
        correct=correct, predicted_at=prediction.created_at, labeled_at=at, labeled_by="user:1",
    )  # fmt: skip


def test_dashboard_alert_overview_and_api_agree_on_live_accuracy(api, owner, risk_model):
    version, _ = served_version(risk_model, owner)
    MonitoringSettings.objects.create(registered_model=risk_model, window_hours=24)
    now = timezone.now()
    old = log_hour(version, past_hour(30), frame(np.random.default_rng(1), 40))
    recent = log_hour(version, past_hour(2), frame(np.random.default_rng(2), 200))
    for prediction in old:  # outside a 24h window: must not count
        label(prediction, correct=False, sampled=True, at=now)
    for i, prediction in enumerate(recent[:50]):  # 31 of 50 sampled right
        label(prediction, correct=i < 31, sampled=True, at=past_hour(1))
    for prediction in recent[50:80]:  # low-confidence queue items, biased: never the headline
        label(prediction, correct=False, sampled=False, at=past_hour(1))
    services.monitor_run(now=now)
    for prediction in recent[80:90]:  # labeled after the job ran: the hourly rows lag
        label(prediction, correct=True, sampled=True, at=timezone.now())
    expected = 41 / 60

    since = Window(24, "hours").start(now)
    shared = selectors.live_accuracy(model_version=version, since=since).unbiased
    stats = selectors.prediction_stats(model_version=version, hours=24, now=now)
    conditions, health = conditions_of(model_version=version, now=now)
    accuracy = next(c for c in conditions if c.kind == "accuracy")
    body = (
        api(owner)
        .get("/api/v1/models/credit-risk/live-accuracy/", {"since": since.isoformat()})
        .json()
    )

    assert shared is not None and shared.value == pytest.approx(expected)
    assert stats.live_accuracy == shared.value and stats.sampled == shared.count == 60
    assert accuracy.value == shared.value and health["live_accuracy"] == shared.value
    assert body[0]["unbiased"]["value"] == shared.value
    # The hourly rows stay the series' pre-aggregate (recounted on the job's next run).
    hourly = HourlyPredictions.objects.get(model_version=version, hour=past_hour(2))
    assert (hourly.sampled_correct, hourly.sampled) == (31, 50)


def test_the_dashboard_headline_is_the_shared_figure_with_its_interval(client, owner, risk_model):
    version, _ = served_version(risk_model, owner)
    rows = log_hour(version, past_hour(1), frame(np.random.default_rng(3), 40))
    for i, prediction in enumerate(rows):
        label(prediction, correct=i < 30, sampled=True, at=timezone.now())
    shared = selectors.live_accuracy(
        model_version=version, since=Window(24, "hours").start(timezone.now())
    ).unbiased
    assert shared is not None and shared.low is not None and shared.high is not None
    client.force_login(owner)

    page = client.get("/models/credit-risk/monitoring/?window=24h").content.decode()

    headline = page[page.index("<h2>Live accuracy</h2>") :]
    headline = headline[: headline.index("</section>")]
    assert f">{round(shared.value * 100)}%</p>" in headline
    assert f"on 40 randomly sampled labels; 95% interval {round(shared.low * 100)}–" in headline
    assert f"–{round(shared.high * 100)}%" in headline
