"""Celery entry points: take ids, load rows, call a plain function, own the retries."""

from __future__ import annotations

import os
import socket

from celery import shared_task

from releases.services import audit_record


@shared_task(name="releases.worker_ping")
def worker_ping(*, token: str) -> dict[str, object]:
    """Proves a worker can reach the database: records who answered, and where."""
    info = {"token": token, "hostname": socket.gethostname(), "pid": os.getpid()}
    audit_record(actor=None, action="worker.ping", payload=info)
    return info
