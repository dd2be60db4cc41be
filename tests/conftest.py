"""Shared fixtures: personas, API clients, a real Celery worker process, a real Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.personas import *  # noqa: F403 -- the personas are fixtures

BASE_DIR = Path(__file__).resolve().parent.parent

# Playwright's sync API keeps an event loop running in the main thread, which makes Django's
# async-safety guard refuse ORM calls from test code. The tests are synchronous; allow it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher() -> Iterator[None]:
    """PBKDF2 costs 0.4 s per persona; the tests check who may do what, not hashing strength."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _allow_audit_purge_after_transactional_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Transactional tests end with a flush; the audit table's SQLite trigger refuses DELETE
    unless this connection says otherwise (see releases migration 0002)."""
    names = request.fixturenames
    if "transactional_db" not in names and "live_server" not in names:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    from django.db import connection

    if connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.connection.create_function("modelgate_audit_purge_allowed", 0, lambda: 1)


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    """api(user) -> a DRF client authenticated with a freshly minted key for that user, as apps
    call us. Keys come from the token model's manager, exactly as ``api_token_rotate`` makes them,
    but without its audit row, so tests that count audit rows see only what they did."""
    from releases.models import ApiToken

    keys: dict[Any, str] = {}

    def make(user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            if user.pk not in keys:
                keys[user.pk] = ApiToken.objects.create(user=user)[1]
            client.credentials(HTTP_AUTHORIZATION=f"Token {keys[user.pk]}")
        return client

    return make


def _test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def _celery_worker(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery -A webapp worker` process on the configured broker and the test database,
    one for the session (starting it takes seconds)."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        # Test webhook receivers listen on loopback; retries come back within seconds.
        "MODELGATE_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "MODELGATE_WEBHOOK_RETRY_BASE_SECONDS": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "webapp", "worker",
                "--pool=solo", "--concurrency=1", "--loglevel=INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"test-worker-{os.getpid()}@%h",
            ],
            cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Celery worker did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    proc.log_path = log  # type: ignore[attr-defined]
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


_RECEIVED = re.compile(rb"Task [\w.]+\[([0-9a-f-]+)\] received")
# Every line celery.app.trace writes about a task ends one run of it: succeeded, raised,
# retry (the retry is received again), rejected, ignored, internal error.
_ENDED = re.compile(rb"celery\.app\.trace Task [\w.]+\[([0-9a-f-]+)\]")


def _worker_busy(log: Path) -> bool:
    text = log.read_bytes()
    ended = Counter(_ENDED.findall(text))
    return any(count > ended[task] for task, count in Counter(_RECEIVED.findall(text)).items())


@pytest.fixture
def celery_worker_process(
    transactional_db: None, _celery_worker: subprocess.Popen[bytes]
) -> Iterator[subprocess.Popen[bytes]]:
    """The session's worker, idle again before the test's tables are emptied.

    A test ends when what it checks is done, but the work it set off goes on: the compiled
    check and the SHAP report queued after a validation, a webhook's retries. Emptying the
    tables under a running task deadlocks on PostgreSQL (TRUNCATE against the task's reads) and
    lets the task write into the next test. So wait, up to a minute, until every task the
    worker received has ended and nothing new arrived for a moment."""
    yield _celery_worker
    log: Path = _celery_worker.log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    quiet_since: float | None = None
    while time.monotonic() < deadline and _celery_worker.poll() is None:
        if _worker_busy(log):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.5:  # what was just queued has been received
            return
        time.sleep(0.2)


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60, what: str = "condition") -> Any:
    """Poll until predicate() is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"Timed out after {timeout}s waiting for {what}")


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def login(page: Any) -> Callable[[Any, str], Any]:
    def do(user: Any, password: str) -> Any:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return do


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


__all__ = ["settings", "wait_for"]
