"""Celery entry points of scoring: take ids, call a plain function, own the retries."""

from __future__ import annotations

from celery import shared_task

from scoring import services


@shared_task(name="scoring.monitor")
def monitor() -> dict[str, object]:
    """Run by Celery beat every minute (CELERY_BEAT_SCHEDULE): freeze references, aggregate the
    prediction log and labels into hourly tables, raise and resolve alerts. A run that waited
    past the next one is dropped (``expires``); the per-version cursor lock makes an overlap
    harmless."""
    run = services.monitor_run()
    return {"versions": run.versions, "rows": run.rows, "references": run.references}
