"""Serving metrics per model and version, in Prometheus' own client (``/metrics``).

Plain module (no Django): callers pass the low-confidence threshold. Under gunicorn each worker
writes its values to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py sets
it, wipes it when the master starts and marks dead workers), and a scrape of any worker sums
every worker's files. Without that variable (``runserver``, tests) the values live in this
process's default registry.

``observe()`` is on the hot path: the labelled children are cached per (model, version[,
status]) so a request costs a dict lookup and a few locked increments, not prometheus-client's
label validation.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Label cardinality is bounded by what the caches below hold: model names come from the URL
# even when the request is refused, so a scan of made-up names must not grow memory forever.
_MAX_CHILDREN = 10_000

REQUESTS = Counter(
    "modelgate_requests",
    "Predict and infer requests, by model, version and HTTP status.",
    ["model", "version", "status"],
)
LATENCY = Histogram(
    "modelgate_request_latency_seconds",
    "Time from request to answer of predict and infer calls.",
    ["model", "version"],
    buckets=BUCKETS,
)
PREDICTIONS = Counter(
    "modelgate_predictions", "Rows scored (one prediction per row).", ["model", "version"]
)
LOW_CONFIDENCE = Counter(
    "modelgate_low_confidence_predictions",
    "Rows whose winning class's probability is below the low-confidence threshold.",
    ["model", "version"],
)
SHADOW = Counter(
    "modelgate_shadow_comparisons",
    "Rows scored by the shadowing (staging) version, by whether it agreed with production.",
    ["model", "version", "shadow_version", "agree"],
)
SHADOW_DROPPED = Counter(
    "modelgate_shadow_dropped_rows",
    "Rows not shadowed because the shadow queue was full or the shadow model failed.",
    ["model", "reason"],
)

_children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
_requests: dict[tuple[str, str, int], Any] = {}


def observe(
    *,
    model: str,
    version: str,
    status: int,
    seconds: float,
    rows: int = 0,
    confidence: np.ndarray | None = None,
    low_confidence_below: float = 0.0,
) -> None:
    """One predict or infer request (any status)."""
    request = _requests.get((model, version, status))
    if request is None:
        if len(_requests) >= _MAX_CHILDREN:
            _requests.clear()
        request = _requests[(model, version, status)] = REQUESTS.labels(model, version, status)
    request.inc()
    children = _children.get((model, version))
    if children is None:
        if len(_children) >= _MAX_CHILDREN:
            _children.clear()
        children = _children[(model, version)] = (
            LATENCY.labels(model, version),
            PREDICTIONS.labels(model, version),
            LOW_CONFIDENCE.labels(model, version),
        )
    latency, predictions, low = children
    latency.observe(seconds)
    if rows:
        predictions.inc(rows)
    if confidence is not None and len(confidence):
        below = int(np.count_nonzero(confidence < low_confidence_below))
        if below:
            low.inc(below)


def observe_shadow(
    *, model: str, version: str, shadow_version: str, agreed: int, disagreed: int
) -> None:
    """Rows compared by the shadow worker (off the request path)."""
    if agreed:
        SHADOW.labels(model, version, shadow_version, "true").inc(agreed)
    if disagreed:
        SHADOW.labels(model, version, shadow_version, "false").inc(disagreed)


def observe_shadow_dropped(*, model: str, reason: str, rows: int) -> None:
    SHADOW_DROPPED.labels(model, reason).inc(rows)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The text a Prometheus scrape gets, and its content type: every worker's values summed
    in multiprocess mode, this process's registry otherwise."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def reset() -> None:
    """Forget every series (tests; in-process mode only)."""
    _children.clear()
    _requests.clear()
    for metric in (REQUESTS, LATENCY, PREDICTIONS, LOW_CONFIDENCE, SHADOW, SHADOW_DROPPED):
        metric.clear()
