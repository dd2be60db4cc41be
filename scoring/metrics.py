"""Serving counters per model and version, kept in this process for the monitoring work.

Plain module. ``observe()`` costs a dict lookup and a few additions under a lock; ``snapshot()``
gives request counts, error counts by status, and a cumulative latency histogram (Prometheus
style ``le`` buckets, in seconds) per (model, version). A multi-process exporter sums the
snapshots of the workers.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class _Series:
    requests: int = 0
    rows: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0


_lock = threading.Lock()
_series: dict[tuple[str, str], _Series] = {}


def observe(*, model: str, version: str, status: int, seconds: float, rows: int = 0) -> None:
    key = (model, version)
    with _lock:
        series = _series.get(key)
        if series is None:
            series = _series[key] = _Series()
        series.requests += 1
        series.rows += rows
        if status >= 400:
            series.errors[status] = series.errors.get(status, 0) + 1
        series.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        series.latency_sum += seconds


def snapshot() -> list[dict[str, Any]]:
    with _lock:
        items = [(key, series) for key, series in _series.items()]
        out = []
        for (model, version), s in items:
            cumulative, running = {}, 0
            for bound, count in zip((*BUCKETS, float("inf")), s.buckets, strict=True):
                running += count
                cumulative["+Inf" if bound == float("inf") else str(bound)] = running
            out.append(
                {
                    "model": model,
                    "version": version,
                    "requests": s.requests,
                    "rows": s.rows,
                    "errors": dict(s.errors),
                    "latency_seconds_bucket": cumulative,
                    "latency_seconds_sum": s.latency_sum,
                }
            )
    return out


def reset() -> None:
    with _lock:
        _series.clear()
