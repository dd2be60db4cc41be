"""Predict and infer POSTs skip the page middleware, yet answer with the same security headers,
and nothing else takes that shortcut."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client

from tests.releases import model_files as mf
from tests.scoring.serving import logistic_numeric, serve
from tests.scoring.test_predict import key_for, post, sample

pytestmark = pytest.mark.django_db


def watch_sessions() -> Any:
    """Counts the session middleware's runs, which every request down the page chain makes."""
    real = SessionMiddleware.process_request
    return mock.patch.object(SessionMiddleware, "process_request", autospec=True, side_effect=real)


SECURITY_HEADERS = ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy",
                    "X-Frame-Options")  # fmt: skip


def test_predict_skips_the_page_middleware_and_keeps_the_security_headers(
    risk_model: Any, owner: Any
) -> None:
    model = logistic_numeric()
    serve(risk_model, 1, model=model, uploaded_by=owner, numeric_only=True, stage="production")
    rows = {"instances": sample(2)[mf.NUMERIC].to_dict("records")}
    key = key_for(owner)

    with watch_sessions() as sessions:
        predicted = post("/api/v1/models/credit-risk/predict/", rows, key)
        by_version = post("/api/v1/models/credit-risk/versions/1/predict/", rows, key)
        assert sessions.call_count == 0
        page = Client().get("/v2/health/live")
        assert sessions.call_count == 1  # everything else still goes through the chain

    for response in (predicted, by_version):
        assert response.status_code == 200, response.content
        for header in SECURITY_HEADERS:
            assert response[header] == page[header]


def test_only_serving_views_take_the_fast_path(risk_model: Any, owner: Any) -> None:
    key = key_for(owner)

    with watch_sessions() as sessions:
        # Same suffix, not a serving view: an unknown URL still gets the site's 404 handling.
        missing = post("/api/v1/models/credit-risk/app-tokens/predict/", {}, key)
        not_post = Client().get("/api/v1/models/credit-risk/predict/")

    assert missing.status_code == 404
    assert not_post.status_code == 405
    assert sessions.call_count == 2
