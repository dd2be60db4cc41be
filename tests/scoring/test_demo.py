"""`make run`'s demo: the releases demo, its versions validated by the real task, then
`demo_traffic` serving them; running it all twice adds nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from releases.models import AuditEvent, ModelVersion, StageAssignment, VersionStatus
from releases.tasks import validate_model_version
from scoring.models import Alert, AppToken, GroundTruth, HourlyPredictions, Prediction, RelabelItem

pytestmark = pytest.mark.django_db


def _load_demo() -> str:
    call_command("demo", stdout=StringIO())
    # The worker's job in `make run`; on_commit never fires inside the test's transaction.
    for version in ModelVersion.objects.filter(status=VersionStatus.PENDING):
        validate_model_version.apply(kwargs={"version_id": version.pk})
    out = StringIO()
    call_command("demo_traffic", wait=0, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "predictions": Prediction.objects.count(),
        "relabel items": RelabelItem.objects.count(),
        "labels": GroundTruth.objects.count(),
        "app tokens": AppToken.objects.count(),
        "stages": StageAssignment.objects.count(),
        "hours": HourlyPredictions.objects.count(),
        "audit rows": AuditEvent.objects.count(),
        "versions": ModelVersion.objects.count(),
    }


def test_demo_serves_a_model_with_a_queue_and_monitoring_and_runs_twice_alike(
    settings: Any, monkeypatch: Any
) -> None:
    settings.MODELGATE_MONITORING_READERS = 1  # the test's rows are not committed
    from scoring import services
    from scoring.management.commands import demo_traffic

    class BeatRunsFirst:
        """`make run`'s beat runs the monitoring job while the demo works: here, right after
        the demo's rows are written, before it moves them into the past hours."""

        def drain(self) -> int:
            lag = timedelta(seconds=settings.MODELGATE_MONITORING_LAG_SECONDS + 1)
            services.monitor_run(now=timezone.now() + lag)
            return 0

    monkeypatch.setattr(demo_traffic, "shadow", BeatRunsFirst())
    out = _load_demo()
    # v2 was validated before v1 served, so dana re-validates it against production; the
    # second run finds that done (the worker's part, here) and promotes v2 to staging.
    assert ModelVersion.objects.get(version=2, registered_model__name="breast-cancer").status == (
        VersionStatus.PENDING
    )
    _load_demo()

    production = StageAssignment.objects.select_related("model_version", "assigned_by").get(
        registered_model__name="breast-cancer", stage="production"
    )
    assert production.model_version.version == 1
    assert production.model_version.status == VersionStatus.APPROVED
    assert production.assigned_by.username == "rui"  # the reviewer, never dana the uploader
    assert StageAssignment.objects.get(stage="staging").model_version.version == 2
    assert AuditEvent.objects.filter(action="version.promote", actor__username="rui").count() == 2

    assert Prediction.objects.filter(model_version=production.model_version).count() >= 200
    assert RelabelItem.objects.filter(reason="uncertain").exists()
    assert GroundTruth.objects.filter(source=GroundTruth.Source.FEEDBACK).count() >= 30
    hours = HourlyPredictions.objects.filter(model_version=production.model_version)
    # Every logged row counted once, in the hour the demo moved it to.
    assert (
        sum(h.rows for h in hours)
        == Prediction.objects.filter(model_version=production.model_version).count()
    )
    assert hours.filter(rows__gt=0).count() >= 5
    assert "predictions on breast-cancer" in out
    # Four requests of 36 were malformed: the error rate (11%) opened the demo's one alert.
    alert = Alert.objects.get(status="open")
    assert alert.kind == "error_rate" and alert.value == pytest.approx(4 / 36)
    assert "4 refused" in out and "1 alert open" in out

    before = _counts()
    again = _load_demo()
    assert _counts() == before
    assert "already has predictions" in again
