"""Against a real gunicorn (two worker processes, gunicorn.conf.py) on the test database: a
promotion reaches every worker without a restart, and stopping workers with SIGTERM under load
loses no accepted prediction."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from releases import services
from releases.models import ApiToken, Stage
from scoring.models import Prediction
from tests.conftest import BASE_DIR, _test_database_url, wait_for
from tests.releases import model_files as mf
from tests.scoring.serving import forest_model, serve
from tests.scoring.test_predict import bodies, sample

# Real commits: the gunicorn processes read the rows this test writes.
pytestmark = pytest.mark.usefixtures("transactional_db")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def serving_pids(self) -> set[int]:
        return {int(p) for p in re.findall(r"predict model=.* pid=(\d+)", self.log_text())}


@pytest.fixture
def gunicorn(media_root: Path, tmp_path: Path, settings: Any) -> Iterator[Gunicorn]:
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MODELGATE_SERVING_REFRESH_SECONDS": "0.2",
        # Rows stay in memory until the worker exits: the exit flush is what is tested.
        "MODELGATE_PREDICTION_LOG_FLUSH_MS": "600000",
        "MODELGATE_PREDICTION_LOG_FLUSH_ROWS": "1000000",
        "WEB_CONCURRENCY": "2",
        "MODELGATE_BIND": f"127.0.0.1:{port}",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "webapp.wsgi:application", "-c", "gunicorn.conf.py"],
            cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Gunicorn(proc, f"http://127.0.0.1:{port}", log)

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{server.log_text()[-3000:]}")
        try:
            return requests.get(f"{server.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, timeout=60, what="gunicorn to answer")
    wait_for(lambda: len(server.worker_pids()) == 2, timeout=30, what="two gunicorn workers")
    yield server
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()


def _hammer(
    url: str, body: bytes, key: str, *, threads: int, seconds: float
) -> list[dict[str, Any]]:
    """Concurrent POSTs for ``seconds``; the JSON of every 200 answer."""
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}

    def run() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            try:
                response = session.post(url, data=body, headers=headers, timeout=10)
            except requests.RequestException:
                session = requests.Session()  # a worker went away mid-request: not accepted
                continue
            if response.status_code == 200:
                with lock:
                    answers.append(response.json())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return answers


def _warm(server: Gunicorn, url: str, body: bytes, key: str) -> None:
    """Both workers load the model (seconds each on a busy machine) before timing matters."""
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}

    def both_warm() -> bool:
        threads = [
            threading.Thread(
                target=lambda: requests.post(url, data=body, headers=headers, timeout=120)
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(server.serving_pids()) == 2

    wait_for(both_warm, timeout=240, what="both workers to serve")


def test_a_promotion_reaches_both_workers_without_a_restart(
    gunicorn: Gunicorn, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    import orjson

    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    v2 = serve(risk_model, 2, model=forest_model(), uploaded_by=owner)
    key = ApiToken.objects.create(user=owner)[1]
    url = f"{gunicorn.url}/api/v1/models/credit-risk/predict/"
    body = orjson.dumps(bodies(sample(1))["instances"])

    _warm(gunicorn, url, body, key)
    before = _hammer(url, body, key, threads=6, seconds=2)
    assert before and {a["version"] for a in before} == {1}
    assert len(gunicorn.serving_pids()) == 2, "both workers should have cached v1"

    services.model_version_promote(actor=reviewer, model_version=v2, stage="production")
    time.sleep(1.0)  # the generation is read every 0.2 s here (0.5 s by default)
    after = _hammer(url, body, key, threads=6, seconds=2)

    assert after and {a["version"] for a in after} == {2}
    assert [a["predictions"] for a in after[:1]] == [forest_model().predict(sample(1)).tolist()]


def test_no_accepted_prediction_is_lost_when_workers_get_sigterm_under_load(
    gunicorn: Gunicorn, risk_model: Any, owner: Any
) -> None:
    import orjson

    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = ApiToken.objects.create(user=owner)[1]
    url = f"{gunicorn.url}/api/v1/models/credit-risk/predict/"
    body = orjson.dumps(bodies(sample(3))["instances"])
    answers: list[dict[str, Any]] = []
    _warm(gunicorn, url, body, key)

    def load() -> None:
        answers.extend(_hammer(url, body, key, threads=6, seconds=4))

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(1.5)
    first = gunicorn.worker_pids()[0]
    os.kill(first, signal.SIGTERM)  # one worker stopped mid-load; the master starts another
    loader.join()
    gunicorn.proc.send_signal(signal.SIGTERM)  # then a graceful stop of everything
    gunicorn.proc.wait(timeout=40)

    accepted = {pid for a in answers for pid in a["prediction_ids"]}
    assert len(accepted) > 100, f"too little load to mean anything: {len(accepted)}"
    stored = {str(i) for i in Prediction.objects.values_list("id", flat=True)}
    assert accepted - stored == set(), gunicorn.log_text()[-3000:]
    assert f"prediction log flushed at exit (pid {first})" in gunicorn.log_text()
