"""A model's corrected dataset: logged inputs with their true labels, as CSV or Parquet.

Plain module: no Django. Rows come in as ``(inputs, label)`` pairs (a prediction's logged
``feature -> value`` dict and its ground-truth label) and go out with the signature's features
in order and the target last, in chunks, so a large dataset streams.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from releases.csv_safety import Echo, neutralise_cell

ROWS_PER_CHUNK = 5_000
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

Row = tuple[dict[str, Any], Any]


def columns(signature: dict[str, Any]) -> tuple[list[str], str]:
    """The feature names in signature order and the target column's name: the signature's
    target, else "label" (suffixed when a feature already has that name)."""
    features = [str(f["name"]) for f in signature.get("features") or []]
    target = str(signature.get("target") or "label")
    while target in features:
        target += "_true"
    return features, target


def values(inputs: dict[str, Any], label: Any, features: list[str]) -> list[Any]:
    inputs = inputs if isinstance(inputs, dict) else {}
    return [inputs.get(name) for name in features] + [label]


# -- CSV ----------------------------------------------------------------------------------------


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading
    apostrophe (releases.csv_safety); numbers, including negative ones, stay numbers."""
    if isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value):
        return value
    return neutralise_cell(value)


def csv_lines(
    rows: Iterable[Row], *, features: list[str], target: str, for_spreadsheets: bool = True
) -> Iterator[str]:
    """The header, then one line per row. ``for_spreadsheets=False`` keeps every value as the
    model saw it (for the evaluation set, which only pandas reads)."""
    writer = csv.writer(Echo())
    clean = spreadsheet_safe if for_spreadsheets else (lambda v: v)
    yield writer.writerow([clean(c) for c in [*features, target]])
    for inputs, label in rows:
        yield writer.writerow([clean(v) for v in values(inputs, label, features)])


# -- Parquet ------------------------------------------------------------------------------------


def arrow_schema(signature: dict[str, Any], *, features: list[str], target: str) -> pa.Schema:
    """Fixed from the signature, so every chunk has the same types whatever its values."""
    kinds = {str(f["name"]): f.get("type") for f in signature.get("features") or []}
    fields = [
        pa.field(name, pa.float64() if kinds.get(name) == "numeric" else pa.string())
        for name in features
    ]
    return pa.schema([*fields, pa.field(target, _target_type(signature))])


def _target_type(signature: dict[str, Any]) -> pa.DataType:
    if signature.get("task") == "regression":
        return pa.float64()
    classes = signature.get("classes") or []
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return pa.int64()
    if classes and all(isinstance(c, int | float) and not isinstance(c, bool) for c in classes):
        return pa.float64()
    return pa.string()


def _cast(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(kind):
        return str(value)
    try:
        return int(value) if pa.types.is_integer(kind) else float(value)
    except (TypeError, ValueError):
        return None  # the signature check let nothing like this in; never fail the export


class _Sink:
    """A write-only file that hands back what was written since the last ``take()``."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def parquet_chunks(
    rows: Iterable[Row], *, signature: dict[str, Any], features: list[str], target: str
) -> Iterator[bytes]:
    """The Parquet file in pieces: one row group per ``ROWS_PER_CHUNK`` rows, then the footer."""
    schema = arrow_schema(signature, features=features, target=target)
    kinds = [field.type for field in schema]
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema)
    batch: list[list[Any]] = []

    def write_batch() -> bytes:
        table = pa.Table.from_pylist(
            [dict(zip(schema.names, row, strict=True)) for row in batch], schema=schema
        )
        writer.write_table(table)
        batch.clear()
        return sink.take()

    for inputs, label in rows:
        row = values(inputs, label, features)
        batch.append([_cast(v, kind) for v, kind in zip(row, kinds, strict=True)])
        if len(batch) >= ROWS_PER_CHUNK:
            yield write_batch()
    if batch:
        yield write_batch()
    writer.close()
    yield sink.take()
