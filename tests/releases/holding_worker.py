"""A Celery app for the reliability tests: ``celery -A tests.releases.holding_worker worker``.

The same app and tasks as ``webapp``, except that validation, once started (the version is
``validating``), waits while the file named by MODELGATE_TEST_HOLD_FILE exists. The test can
then SIGKILL the worker mid-job at a moment it chooses, instead of racing a slow model.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django.setup()

from releases import tasks  # noqa: E402
from webapp.celery import app  # noqa: E402

_validate_in_sandbox = tasks.validate_in_sandbox


def _held(**kwargs: Any) -> Any:
    hold = os.environ.get("MODELGATE_TEST_HOLD_FILE")
    while hold and Path(hold).exists():
        time.sleep(0.1)
    return _validate_in_sandbox(**kwargs)


tasks.validate_in_sandbox = _held

__all__ = ["app"]
