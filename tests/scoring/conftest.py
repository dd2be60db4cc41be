from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fresh_serving(settings: Any, media_root: Path) -> Iterator[None]:
    """Each test starts cold: no cached callers, versions or models, an empty log buffer, and
    the log written by hand (``flush_log``) in the test's own transaction."""
    from releases.loading import clear_cache
    from scoring import metrics, serving
    from scoring.prediction_log import prediction_log
    from scoring.relabel_routing import forget
    from scoring.shadow import shadow

    settings.MODELGATE_PREDICTION_LOG_THREAD = False
    settings.MODELGATE_SHADOW_THREAD = False  # tests drain the shadow queue by hand
    settings.MODELGATE_SERVING_REFRESH_SECONDS = 0
    # A test's rows are uncommitted: the monitoring job's extra readers (own connections) would
    # not see them. The transactional concurrency test turns them back on.
    settings.MODELGATE_MONITORING_READERS = 1
    serving.forget_everything()
    clear_cache()
    metrics.reset()
    prediction_log.discard()
    shadow.discard()
    forget()  # cached relabel policies are keyed by model ids, which tests reuse
    yield
    serving.forget_everything()
    clear_cache()
    prediction_log.discard()
    shadow.discard()


@pytest.fixture
def served(risk_model: Any, owner: Any) -> Any:
    """credit-risk v1, the mixed-type pipeline, in production."""
    from releases.models import Stage
    from tests.releases import model_files as mf
    from tests.scoring.serving import serve

    return serve(
        risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION
    )


@pytest.fixture
def app_key(reviewer: Any, served: Any) -> str:
    """An app token of ``served``'s model, made by a reviewer."""
    from scoring import services

    _, key = services.app_token_create(
        actor=reviewer, registered_model=served.registered_model, name="checkout"
    )
    return key
