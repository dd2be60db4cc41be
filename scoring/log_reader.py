"""Reading the prediction log as columns, in bounded blocks, for the monitoring job and for
windows of the latest N predictions.

On PostgreSQL one stretch of log is one ``COPY (SELECT ... jsonb_to_record(inputs) ...) TO
STDOUT``: the database unpacks the JSON into typed columns (an index range scan on
``(model_version, created_at)``), and pandas parses the text stream in blocks of about
``BLOCK_BYTES``, so an hour of traffic at 1,000 predictions/s never sits in memory at once.
Elsewhere (SQLite) the ORM reads the rows and Python unpacks each row's JSON.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from django.db import connection

from releases.models import ModelVersion
from scoring import drift
from scoring.models import Prediction

BLOCK_BYTES = 48 * 1024 * 1024
BLOCK_ROWS = 50_000
_COPY_ESCAPE = re.compile(r"\\(.)")
_COPY_CODES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}


@dataclass
class LogColumns:
    """A stretch of one version's log as columns."""

    rows: int
    features: dict[str, Any] = field(default_factory=dict)
    latency: np.ndarray = field(default_factory=lambda: np.empty(0))
    confidence: np.ndarray = field(default_factory=lambda: np.empty(0))
    predictions: list[Any] = field(default_factory=list)


def _unescape(value: Any) -> Any:
    # COPY's text format escapes backslashes, tabs and newlines inside values.
    if isinstance(value, str) and "\\" in value:
        return _COPY_ESCAPE.sub(lambda m: _COPY_CODES.get(m.group(1), m.group(1)), value)
    return value


def _copy_query(features: list[tuple[str, str]], *, latest: bool) -> Any:
    from psycopg import sql

    selected: list[Any] = [sql.SQL("x.{}").format(sql.Identifier(name)) for name, _ in features]
    selected += [sql.SQL("p.latency_ms"), sql.SQL("p.confidence"), sql.SQL("p.prediction::text")]
    source: Any = sql.SQL("scoring_prediction p")
    if features:
        record = sql.SQL(", ").join(
            sql.SQL("{} {}").format(
                sql.Identifier(name), sql.SQL("float8" if kind == "numeric" else "text")
            )
            for name, kind in features
        )
        source = sql.SQL("scoring_prediction p, jsonb_to_record(p.inputs) AS x({})").format(record)
    where = (
        sql.SQL("p.model_version_id = %s ORDER BY p.created_at DESC LIMIT %s")
        if latest
        else sql.SQL("p.model_version_id = %s AND p.created_at >= %s AND p.created_at < %s")
    )
    return sql.SQL("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT").format(
        sql.SQL(", ").join(selected), source, where
    )


def _parse(data: bytes, features: list[tuple[str, str]]) -> LogColumns:
    names = [f"c{i}" for i in range(len(features) + 3)]
    dtypes: dict[str, Any] = {
        f"c{i}": (np.float64 if kind == "numeric" else object)
        for i, (_, kind) in enumerate(features)
    }
    dtypes.update({names[-3]: np.float64, names[-2]: np.float64, names[-1]: object})
    frame = pd.read_csv(
        io.BytesIO(data), sep="\t", header=None, names=names, dtype=dtypes, quoting=3,
        keep_default_na=False, na_values=["\\N"], engine="c",
    )  # fmt: skip
    columns = LogColumns(
        rows=len(frame),
        latency=frame[names[-3]].to_numpy(),
        confidence=frame[names[-2]].to_numpy(),
        predictions=[_unescape(v) for v in frame[names[-1]].tolist()],
    )
    for i, (name, kind) in enumerate(features):
        values = frame[f"c{i}"].to_numpy()
        if kind != "numeric":
            values = np.asarray([_unescape(v) for v in values], dtype=object)
        columns.features[name] = values
    return columns


def _postgres_blocks(
    features: list[tuple[str, str]], query: Any, params: tuple[Any, ...]
) -> Iterator[LogColumns]:
    pending = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(query, params) as copy:
        for block in copy:
            pending += block
            if len(pending) >= BLOCK_BYTES:
                cut = pending.rfind(b"\n") + 1
                yield _parse(bytes(pending[:cut]), features)
                del pending[:cut]
    if pending:
        yield _parse(bytes(pending), features)


def columns_from_rows(
    rows: Iterable[tuple[Any, Any, Any, Any]], features: list[tuple[str, str]]
) -> LogColumns:
    """Columns from (inputs, latency_ms, confidence, prediction) rows read by the ORM."""
    inputs, latency, confidence, predictions = [], [], [], []
    for row_inputs, row_latency, row_confidence, row_prediction in rows:
        inputs.append(row_inputs if isinstance(row_inputs, dict) else {})
        latency.append(row_latency)
        confidence.append(row_confidence)
        predictions.append(orjson.dumps(row_prediction).decode())
    columns = LogColumns(
        rows=len(inputs),
        latency=drift.numeric_array(latency),
        confidence=drift.numeric_array(confidence),
        predictions=predictions,
    )
    for name, kind in features:
        values = [r.get(name) for r in inputs]
        columns.features[name] = (
            drift.numeric_array(values) if kind == "numeric" else np.asarray(values, dtype=object)
        )
    return columns


_FIELDS = ("inputs", "latency_ms", "confidence", "prediction")


def log_blocks(
    version: ModelVersion, features: list[tuple[str, str]], start: datetime, end: datetime
) -> Iterator[LogColumns]:
    """The version's log with ``start <= created_at < end``, in bounded blocks."""
    if connection.vendor == "postgresql":
        yield from _postgres_blocks(
            features, _copy_query(features, latest=False), (version.pk, start, end)
        )
        return
    rows = (
        Prediction.objects.filter(model_version=version, created_at__gte=start, created_at__lt=end)
        .order_by()
        .values_list(*_FIELDS)
        .iterator(chunk_size=5000)
    )
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BLOCK_ROWS:
            yield columns_from_rows(batch, features)
            batch = []
    if batch:
        yield columns_from_rows(batch, features)


def latest_columns(
    version: ModelVersion, features: list[tuple[str, str]], count: int
) -> LogColumns:
    """The version's latest ``count`` predictions as columns."""
    if connection.vendor == "postgresql":
        blocks = list(
            _postgres_blocks(features, _copy_query(features, latest=True), (version.pk, count))
        )
        if not blocks:
            return LogColumns(rows=0, features={n: np.empty(0) for n, _ in features})
        if len(blocks) == 1:
            return blocks[0]
    rows = list(
        Prediction.objects.filter(model_version=version)
        .order_by("-created_at")
        .values_list(*_FIELDS)[:count]
    )
    return columns_from_rows(rows, features)
