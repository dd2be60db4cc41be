"""Configuration comes from the environment and fails loudly on bad values."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    dropped = {"DEBUG", "MODELGATE_MODE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR, env=full_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("MODELGATE_MODE", "staging", "MODELGATE_MODE='staging' is not valid"),
        ("CELERY_BROKER_URL", "kafka://x", "CELERY_BROKER_URL='kafka://x'"),
        ("REDIS_URL", "http://x", "REDIS_URL='http://x' must start with redis://"),
        ("CELERY_TASK_TIME_LIMIT", "soon", "CELERY_TASK_TIME_LIMIT='soon' is not an integer"),
        ("MODELGATE_TOKEN_TTL_DAYS", "forever", "MODELGATE_TOKEN_TTL_DAYS='forever' is not an"),
    ],
)
def test_bad_environment_value_stops_startup_with_its_name(variable, value, message):
    result = manage("check", **{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_mode_requires_a_secret_key():
    result = manage("check", MODELGATE_MODE="production", ALLOWED_HOSTS="mg.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    "key", ["a" * 50, "abcd" * 20, secrets.token_urlsafe(30), "django-insecure-" + "x1y2z3" * 10]
)
def test_production_mode_refuses_a_weak_secret_key(key):
    result = manage(
        "check", MODELGATE_MODE="production", SECRET_KEY=key, ALLOWED_HOSTS="mg.example.com"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak for production" in result.stderr


@pytest.mark.parametrize("hosts", ["*", "mg.example.com,*", "*.example.com"])
def test_production_mode_refuses_a_wildcard_allowed_hosts(hosts):
    result = manage(
        "check",
        MODELGATE_MODE="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS=hosts,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: ALLOWED_HOSTS must name the hosts in production" in result.stderr


def test_production_mode_passes_deploy_checks_without_warnings():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        MODELGATE_MODE="production", SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="mg.example.com",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_development_mode_is_flagged_by_deploy_checks():
    # The deploy check must be able to fail, or the test above proves nothing.
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
