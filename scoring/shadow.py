"""Shadow scoring, off the request path.

While a model's shadow mode is on, a production request hands its rows (already logged, with
their prediction ids) to this process's bounded queue and answers at once: ``offer()`` costs a
cached flag lookup and an append. A background thread takes the queued requests, scores their
rows with the version holding staging now (resolved and loaded through the same caches as
serving, ``scoring.serving.served_version``), compares with production's answers and writes
``ShadowResult`` rows in bulk. Nothing it does reaches the live response: a full queue drops the
request's rows, a shadow model that raises loses its batch, and both are counted
(``modelgate_shadow_dropped_rows_total``) and logged.

Whether a model is shadowed is read once per serving generation (the audited toggle moves it),
so the hot path does no query per request.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from releases.models import Stage
from releases.request_rows import Rows
from scoring import metrics, predictor, serving

logger = logging.getLogger("modelgate.shadow")


@dataclass
class Job:
    """One production request to shadow."""

    ids: list[uuid.UUID]
    registered_model_id: int
    model_name: str
    version_id: int
    version_number: int
    regression: bool
    frame: Rows | pd.DataFrame
    predictions: list[Any]
    created_at: datetime


class Shadow:
    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()
        self._rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._flags: dict[int, bool] = {}
        self._flags_generation: int | None = None
        self.written = 0
        self.dropped = 0

    # -- request path --

    def offer(
        self,
        *,
        served: serving.ServedVersion,
        stage: str | None,
        logged: bool,
        frame: Rows | pd.DataFrame,
        predictions: list[Any],
        ids: list[uuid.UUID],
    ) -> None:
        """Queue a production request's logged rows for the staging version, if it shadows."""
        if stage != Stage.PRODUCTION or not logged:
            return
        if not self.shadowing(served.registered_model_id):
            return
        rows = len(ids)
        with self._lock:
            full = self._rows + rows > settings.MODELGATE_SHADOW_QUEUE_MAX_ROWS
            if not full:
                self._jobs.append(
                    Job(
                        ids=ids,
                        registered_model_id=served.registered_model_id,
                        model_name=served.model_name,
                        version_id=served.id,
                        version_number=served.number,
                        regression=served.signature.get("task") == "regression",
                        frame=frame,
                        predictions=predictions,
                        created_at=timezone.now(),
                    )
                )
                self._rows += rows
            else:
                self.dropped += rows
        if full:
            metrics.observe_shadow_dropped(model=served.model_name, reason="queue_full", rows=rows)
            return
        if settings.MODELGATE_SHADOW_THREAD:
            self._ensure_thread()
            self._wake.set()

    def shadowing(self, registered_model_id: int) -> bool:
        """Is shadow mode on for the model? One query per model per serving generation."""
        generation = serving.generation()
        if generation != self._flags_generation or generation is None:
            self._flags = {}
            self._flags_generation = generation
        flag = self._flags.get(registered_model_id)
        if flag is None:
            from scoring.models import ShadowMode

            flag = ShadowMode.objects.filter(
                registered_model_id=registered_model_id, enabled=True
            ).exists()
            self._flags[registered_model_id] = flag
        return flag

    # -- off the request path --

    def drain(self) -> int:
        """Score and store everything queued now; the number of results written."""
        from scoring.models import ShadowResult

        with self._lock:
            jobs = list(self._jobs)
            self._jobs.clear()
            self._rows = 0
        results: list[ShadowResult] = []
        for job in jobs:
            results.extend(self._compare(job))
        if not results:
            return 0
        try:
            ShadowResult.objects.bulk_create(results, batch_size=1000)
        except Exception:
            # Best effort, unlike the prediction log: these rows are a comparison, not a record.
            logger.exception("shadow: writing %d results failed; they are dropped", len(results))
            self.dropped += len(results)
            close_old_connections()
            return 0
        self.written += len(results)
        return len(results)

    def _compare(self, job: Job) -> list[Any]:
        from scoring.models import ShadowResult

        model = serving.ServedModel(id=job.registered_model_id, name=job.model_name, team_id=0)
        try:
            shadow = serving.served_version(model, stage=Stage.STAGING, version=None)
            if shadow.id == job.version_id:
                return []  # the same version holds both stages: nothing to compare
            scored = predictor.score(shadow.model, job.frame, signature=shadow.signature)
        except Exception as exc:
            logger.warning(
                "shadow: staging of %s could not score %d rows: %s: %s",
                job.model_name, len(job.ids), type(exc).__name__, str(exc)[:300],
            )  # fmt: skip
            self.dropped += len(job.ids)
            metrics.observe_shadow_dropped(
                model=job.model_name, reason="shadow_failed", rows=len(job.ids)
            )
            return []
        probabilities = scored.probabilities.tolist() if scored.probabilities is not None else None
        results = []
        agreed = 0
        for i, prediction_id in enumerate(job.ids):
            agree = _agree(job.predictions[i], scored.predictions[i], regression=job.regression)
            agreed += agree
            results.append(
                ShadowResult(
                    prediction_id=prediction_id,
                    registered_model_id=job.registered_model_id,
                    production_version_id=job.version_id,
                    shadow_version_id=shadow.id,
                    shadow_prediction=scored.predictions[i],
                    probabilities=probabilities[i] if probabilities is not None else None,
                    agree=agree,
                    created_at=job.created_at,
                )
            )
        metrics.observe_shadow(
            model=job.model_name,
            version=str(job.version_number),
            shadow_version=str(shadow.number),
            agreed=agreed,
            disagreed=len(results) - agreed,
        )
        return results

    def discard(self) -> None:
        """Forget queued rows, cached flags and counters (tests)."""
        with self._lock:
            self._jobs.clear()
            self._rows = 0
            self._flags = {}
            self._flags_generation = None
            self.written = self.dropped = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            queued = self._rows
        return {"queued": queued, "written": self.written, "dropped": self.dropped}

    def _ensure_thread(self) -> None:
        # A thread started before gunicorn forked does not exist in the worker: start per pid.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="modelgate-shadow", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                self.drain()
            except Exception:  # never let the worker thread die; the batch is lost, say so
                logger.exception("shadow: a batch failed")
            close_old_connections()


def _agree(production: Any, shadow: Any, *, regression: bool) -> bool:
    if not regression:
        return bool(production == shadow)
    try:
        return math.isclose(
            float(production), float(shadow), rel_tol=settings.MODELGATE_SHADOW_REGRESSION_RTOL
        )
    except (TypeError, ValueError):
        return False


shadow = Shadow()
