"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from releases.sandbox import SandboxUnavailable, describe_mode
from webapp.celery import app as celery_app


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return f"database unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return f"broker unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _check_cache() -> str | None:
    if not settings.REDIS_URL:
        return None
    try:
        cache.set("readyz", "1", timeout=5)
    except Exception as exc:
        return f"cache unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _sandbox() -> tuple[str, str | None]:
    """Which sandbox untrusted models run in (details), and a failure when the configured one
    cannot run. The probe runs once per process."""
    try:
        return describe_mode(settings.MODELGATE_SANDBOX), None
    except SandboxUnavailable as exc:
        return "unavailable", f"sandbox unavailable: {exc}"


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    sandbox, sandbox_failure = _sandbox()
    checks = {
        "database": _check_database(),
        "broker": _check_broker(),
        "cache": _check_cache(),
        "sandbox": sandbox_failure,
    }
    failures = {name: reason for name, reason in checks.items() if reason}
    body = {
        "status": "unavailable" if failures else "ok",
        "checks": {name: (reason or "ok") for name, reason in checks.items()},
        "details": {"sandbox": sandbox},
    }
    return JsonResponse(body, status=503 if failures else 200)
