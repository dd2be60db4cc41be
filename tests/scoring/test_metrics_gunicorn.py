"""/metrics under a real gunicorn with two worker processes (multiprocess mode): a scrape of
either worker counts every worker's requests, and a scrape without the token is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from releases.models import ApiToken, Stage
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_gunicorn import Gunicorn, _warm
from tests.scoring.test_gunicorn import gunicorn as gunicorn
from tests.scoring.test_predict import bodies, sample

pytestmark = pytest.mark.usefixtures("transactional_db")

TOKEN = "metrics-scrape-token"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Gunicorn]:
    """tests/scoring/test_gunicorn.py's server, started with a metrics token in its
    environment."""
    monkeypatch.setenv("MODELGATE_METRICS_TOKEN", TOKEN)
    yield request.getfixturevalue("gunicorn")


def _totals(text: str) -> dict[str, float]:
    """Sample name → sum over every label set, for ModelGate's own series."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for point in family.samples:
            if point.name.startswith("modelgate_") and point.labels.get("le", "+Inf") == "+Inf":
                totals[point.name] = totals.get(point.name, 0.0) + point.value
    return totals


def test_metrics_sum_both_workers_requests_and_need_the_token(
    server: Gunicorn, risk_model: Any, owner: Any, tmp_path: Path
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = ApiToken.objects.create(user=owner)[1]
    url = f"{server.url}/api/v1/models/credit-risk/predict/"
    body = orjson.dumps(bodies(sample(3))["instances"])
    _warm(server, url, body, key)  # both workers have served (the log says which pid did)
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    warm = len(server.log_text().split("predict model=credit-risk")) - 1

    for _ in range(20):
        assert requests.post(url, data=body, headers=headers, timeout=30).status_code == 200
    for _ in range(5):  # refused: 400 names the missing features
        bad = requests.post(url, data=b'{"instances": [{"age": 1}]}', headers=headers, timeout=30)
        assert bad.status_code == 400

    assert requests.get(f"{server.url}/metrics", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.get(f"{server.url}/metrics", headers=wrong, timeout=10).status_code == 401

    auth = {"Authorization": f"Bearer {TOKEN}"}
    scrapes = [requests.get(f"{server.url}/metrics", headers=auth, timeout=10) for _ in range(6)]
    assert all(s.status_code == 200 for s in scrapes)
    served = warm + 25
    for scrape in scrapes:  # whichever worker answered, it reports both workers' counts
        totals = _totals(scrape.text)
        assert totals["modelgate_requests_total"] == served
        assert totals["modelgate_request_latency_seconds_count"] == served
        assert totals["modelgate_request_latency_seconds_bucket"] == served
        assert totals["modelgate_predictions_total"] == 3 * (warm + 20)
    assert len(server.serving_pids()) == 2
