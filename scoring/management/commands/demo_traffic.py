from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.test import Client
from django.utils import timezone

from releases.errors import DomainError
from releases.models import ModelVersion, RegisteredModel, StageAssignment, VersionStatus
from releases.services import (
    model_version_promote,
    model_version_rerun_validation,
    model_version_review,
)
from scoring import services
from scoring.models import (
    Alert,
    AppToken,
    HourlyFeature,
    HourlyPredictions,
    MonitoringCursor,
    Prediction,
    ShadowResult,
)
from scoring.prediction_log import prediction_log
from scoring.shadow import shadow

# What the releases demo loads: breast-cancer v1 (logistic regression) and v2 (random forest).
MODEL = "breast-cancer"
REVIEWER = "rui"
# (version, stage, rui's review comment)
STAGES = [
    (1, "production", "Demo: the baseline; accuracy 0.98 on the evaluation set."),
    (2, "staging", "Demo: a candidate; let it run in staging beside production first."),
]
APP_NAME = "Triage app (demo)"
# The feature whose values the demo shifts, so monitoring shows drift on one feature only.
SHIFTED_FEATURE = "mean radius"
HOURS = 6
# Requests from a second app whose new form sends this feature as text: each one is refused
# (400), enough of them for the error-rate alert, so the demo shows an alert to acknowledge.
BROKEN_FEATURE = "worst area"
BROKEN_REQUESTS = 4
UNSETTLED = {VersionStatus.PENDING, VersionStatus.VALIDATING}


def _demo_rows(rng: Any) -> tuple[list[dict[str, float]], list[str]]:
    """~300 rows from scikit-learn's bundled breast cancer set with their true labels: most as
    they are, some halfway between a benign and a malignant biopsy (the model is unsure of
    those, so they reach the labeling queue), and, last, some with ``SHIFTED_FEATURE`` scaled
    up, as if a new scanner had arrived."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target.map(dict(enumerate(data.target_names)))
    plain = rng.choice(len(X), size=220, replace=False)
    rows = [X.iloc[i].to_dict() for i in plain]
    labels = [str(y.iloc[i]) for i in plain]
    benign, malignant = X[y == "benign"], X[y == "malignant"]
    for _ in range(40):
        a = benign.iloc[rng.integers(len(benign))]
        b = malignant.iloc[rng.integers(len(malignant))]
        share = rng.uniform(0.4, 0.6)
        rows.append((a * share + b * (1 - share)).to_dict())
        labels.append("benign" if share >= 0.5 else "malignant")
    order = list(rng.permutation(len(rows)))
    rows, labels = [rows[i] for i in order], [labels[i] for i in order]
    for i in rng.choice(len(X), size=60, replace=False):
        row = X.iloc[i].to_dict()
        row[SHIFTED_FEATURE] *= 1.8
        rows.append(row)
        labels.append(str(y.iloc[i]))
    return rows, labels


class Command(BaseCommand):
    help = (
        "Serve the demo: rui approves and promotes breast-cancer v1 to production and v2 to "
        "staging (shadowing production), an app sends a few hundred predictions and reports "
        "some outcomes, another sends a few malformed ones, and the monitoring job runs once. "
        "Run after `manage.py demo` with a worker running (it waits for validation). Safe to "
        "run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=120.0,
            help="Seconds to wait for the demo versions' validation (default 120).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model = RegisteredModel.objects.filter(name=MODEL).first()
        reviewer = User.objects.filter(username=REVIEWER).first()
        if model is None or reviewer is None:
            self.stdout.write("No demo model: run `manage.py demo` first.")
            return
        deadline = time.monotonic() + options["wait"]
        for number, stage, comment in STAGES:
            self._release(model, number, stage, comment, reviewer, deadline)
        if not StageAssignment.objects.filter(registered_model=model, stage="production").exists():
            self.stdout.write("Demo traffic skipped: no production version.")
            return
        if Prediction.objects.filter(registered_model=model).exists():
            self.stdout.write(f"Demo traffic: {MODEL} already has predictions.")
            return
        self._traffic(model, reviewer)

    def _settled(self, model: RegisteredModel, number: int, deadline: float) -> ModelVersion | None:
        """The version once the worker is done validating it; None if it does not exist or
        the deadline passes first."""
        while True:
            version = model.versions.filter(version=number).first()
            if version is None or version.status not in UNSETTLED:
                return version
            if time.monotonic() >= deadline:
                self.stdout.write(
                    f"Demo: {MODEL} v{number} is still validating; run `manage.py demo_traffic` "
                    "again once the worker is done."
                )
                return None
            time.sleep(0.5)

    def _release(
        self,
        model: RegisteredModel,
        number: int,
        stage: str,
        comment: str,
        reviewer: User,
        deadline: float,
    ) -> None:
        """Four eyes: rui reviews what dana uploaded. A stage someone already filled is left
        alone, so a second run never undoes what people did in the demo."""
        if StageAssignment.objects.filter(registered_model=model, stage=stage).exists():
            return
        version = self._settled(model, number, deadline)
        if version is None:
            return
        production = StageAssignment.objects.filter(registered_model=model, stage="production")
        if (
            version.status == VersionStatus.VALIDATED
            and version.evaluation_dataset_id is not None
            and (version.validation_report or {}).get("comparison") is None
            and production.exclude(model_version=version).exists()
        ):
            # The demo's versions were validated side by side, before anything served: the
            # uploader validates this one again, so its review page compares it with
            # production on the evaluation set production adopted.
            model_version_rerun_validation(actor=version.uploaded_by, model_version=version)
            version = self._settled(model, number, deadline)
            if version is None:
                return
        try:
            if version.status == VersionStatus.VALIDATED:
                version = model_version_review(
                    actor=reviewer,
                    model_version=version,
                    decision="approve",
                    comment=comment,
                )
            model_version_promote(
                actor=reviewer, model_version=version, stage=stage, comment="Demo rollout."
            )
        except DomainError as exc:
            self.stdout.write(f"Demo: v{number} not promoted to {stage}: {exc.message}")

    def _traffic(self, model: RegisteredModel, reviewer: User) -> None:
        import numpy as np

        token = AppToken.objects.filter(name=APP_NAME, revoked_at__isnull=True).first()
        if token is not None:
            # Its key was shown once and is gone; a fresh one replaces it.
            services.app_token_revoke(actor=reviewer, app_token=token)
        # The demo's requests would flood the terminal `make run` prints its welcome in.
        logging.getLogger("modelgate.access").setLevel(logging.WARNING)
        logging.getLogger("django.request").setLevel(logging.ERROR)  # the refused ones, below
        _, key = services.app_token_create(actor=reviewer, registered_model=model, name=APP_NAME)
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        rows, labels = _demo_rows(np.random.default_rng(0))
        ids: list[str] = []
        canary = StageAssignment.objects.filter(registered_model=model, stage="staging").exists()
        if canary:
            # Staging also answers every production request off the request path: the model
            # page shows how often it agrees before anyone promotes it.
            services.shadow_mode_set(actor=reviewer, registered_model=model, enabled=True)
        # Alerts over the demo's whole six hours, which hold fewer rows than the default needs.
        services.monitoring_settings_update(
            actor=reviewer, registered_model=model, changes={"window_hours": HOURS, "min_rows": 30}
        )
        size = 10
        for start in range(0, len(rows), size):
            # One request in five goes to staging, as a canary would.
            stage = "?stage=staging" if canary and (start // size) % 5 == 4 else ""
            response = client.post(
                f"/api/v1/models/{model.name}/predict/{stage}",
                orjson.dumps({"instances": rows[start : start + size]}),
                content_type="application/json",
            )
            if response.status_code != 200:
                self.stdout.write(f"Demo traffic stopped: {response.content.decode()[:300]}")
                return
            ids += response.json()["prediction_ids"]
        for row in rows[:BROKEN_REQUESTS]:
            client.post(
                f"/api/v1/models/{model.name}/predict/",
                orjson.dumps({"instances": [{**row, BROKEN_FEATURE: "n/a"}]}),
                content_type="application/json",
            )  # a 400 naming the row and the field; counted in the version's error rate
        prediction_log.flush()  # writes the rows and routes the unsure ones to the queue
        shadow.drain()  # what the shadow thread has not written yet
        shadowed = ShadowResult.objects.filter(registered_model=model).count()
        # Spread the requests over the last HOURS hours, so the dashboard draws a day's shape
        # (and the shifted rows, sent last, make drift appear in the latest hours).
        now = timezone.now()
        step = timedelta(hours=HOURS) / len(ids)
        for start in range(0, len(ids), size):
            Prediction.objects.filter(pk__in=ids[start : start + size]).update(
                created_at=now - step * (len(ids) - start)
            )
        # The beat's monitoring job may already have passed these rows at their real time;
        # moved into the past hours, they are aggregated afresh (demo rows only: the model
        # had no predictions before this command).
        versions = model.versions.all()
        MonitoringCursor.objects.filter(model_version__in=versions).delete()
        HourlyPredictions.objects.filter(model_version__in=versions).delete()
        HourlyFeature.objects.filter(model_version__in=versions).delete()
        # The app reports what the biopsy showed for one prediction in five.
        reported = 0
        for prediction_id, label in list(zip(ids, labels, strict=True))[::5]:
            response = client.post(
                f"/api/v1/predictions/{prediction_id}/feedback/",
                orjson.dumps({"label": label}),
                content_type="application/json",
            )
            reported += response.status_code == 200
        lag = timedelta(seconds=settings.MODELGATE_MONITORING_LAG_SECONDS + 1)
        run = services.monitor_run(now=timezone.now() + lag)
        alerts = Alert.objects.filter(registered_model=model, status="open").count()
        self.stdout.write(
            f"Demo traffic: {len(ids)} predictions on {MODEL} ({shadowed} shadowed by staging), "
            f"{BROKEN_REQUESTS} refused, {reported} outcomes reported, {run.rows} rows "
            f"aggregated for monitoring, {alerts} alert{'s' if alerts != 1 else ''} open."
        )
