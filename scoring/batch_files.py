"""Batch files: what an uploaded CSV or Parquet file holds, checked against a signature, and the
result file written beside it.

Plain module (no Django). The header is checked while the caller waits (`read_header`,
`check_columns`); the rows are read and checked in the worker (`read_checked_rows`), chunk by
chunk with the same column-wise checks and messages as predict (``releases.request_rows``), so a
bad cell is named by its row and column.

Policy: a file with a bad cell fails as a whole, before anything is scored, with a sentence
naming the first bad row and column. The same all-or-nothing rule as a predict request: a result
file with holes would be easy to take for a complete one, and the fix (correct the file, upload
again) is the same either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from releases.errors import InvalidInput, UnsupportedFormat
from releases.request_rows import frame_from_columns

CSV = "csv"
PARQUET = "parquet"
_PARQUET_MAGIC = b"PAR1"
_HEAD_BYTES = 1 << 20
PREDICTION = "prediction"
CONFIDENCE = "confidence"


def sniff_format(name: str, head: bytes) -> str:
    """ "csv" or "parquet" from the file's first bytes (and name); 415 for anything else."""
    lowered = name.lower()
    if head.startswith(_PARQUET_MAGIC):
        return PARQUET
    if lowered.endswith((".parquet", ".pq")):
        raise UnsupportedFormat(
            f"{name!r} is named like a Parquet file but is not one (no PAR1 header).", field="file"
        )
    if lowered.endswith((".csv", ".txt")) or not Path(lowered).suffix:
        if b"\x00" in head:
            raise UnsupportedFormat(
                f"{name!r} is not a CSV (it holds binary data). Send a UTF-8 CSV or a Parquet "
                "file.",
                field="file",
            )
        return CSV
    raise UnsupportedFormat(
        f"{name!r} is neither a CSV nor a Parquet file; batch scoring takes those two formats.",
        field="file",
    )


def read_header(fh: IO[bytes], fmt: str) -> tuple[list[str], int | None]:
    """The file's column names, and its row count when the format records it (Parquet)."""
    if fmt == PARQUET:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(fh)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidInput(f"The Parquet file cannot be read: {exc}.", field="file") from None
        return [str(n) for n in parquet.schema_arrow.names], parquet.metadata.num_rows
    head = fh.read(_HEAD_BYTES)
    if len(head) == _HEAD_BYTES:
        head = head[: head.rfind(b"\n") + 1] or head  # whole lines only
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedFormat(
            "The CSV is not UTF-8 text; save it as UTF-8.", field="file"
        ) from None
    lines = csv.reader(io.StringIO(text))
    header = next(lines, [])
    if not header or not any(h.strip() for h in header):
        raise InvalidInput(
            "The CSV is empty; send a header row and at least one row.", field="file"
        )
    if next(lines, None) is None:
        raise InvalidInput("The CSV has a header but no rows to score.", field="file")
    return header, None


def check_columns(columns: list[str], *, signature: dict[str, Any]) -> None:
    """400 naming every missing, unknown or repeated column."""
    names = [str(f["name"]) for f in signature.get("features") or []]
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InvalidInput(
            f"Columns appear more than once: {_listed(duplicates)}. Keep one of each.",
            field="file",
        )
    missing = [n for n in names if n not in columns]
    unknown = [c for c in columns if c not in names]
    problems = []
    if missing:
        problems.append(f"missing {_listed(missing)}")
    if unknown:
        problems.append(f"unknown {_listed(unknown)}")
    if problems:
        raise InvalidInput(
            f"The file's columns do not match the model's features: {'; '.join(problems)}. The "
            f"model takes exactly: {_listed(names)}.",
            field="file",
            detail={"missing": missing, "unknown": unknown, "expected": names},
        )


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:30])
    return shown + (f" and {len(names) - 30} more" if len(names) > 30 else "")


def read_frame(path: Path, fmt: str, *, signature: dict[str, Any], max_rows: int) -> pd.DataFrame:
    """The file as read (its own columns, in its order). Text categories stay text (a CSV's
    "007" is not the number 7); only an empty cell is missing."""
    if fmt == PARQUET:
        frame = pd.read_parquet(path)
    else:
        text_columns = {
            str(f["name"]): str
            for f in signature.get("features") or []
            if f.get("type") != "numeric"
            and all(isinstance(c, str) for c in f.get("categories") or [])
        }
        try:
            frame = pd.read_csv(
                path,
                dtype=text_columns,  # type: ignore[arg-type]
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
            )
        except UnicodeDecodeError:
            raise InvalidInput(
                "The CSV is not UTF-8 text; save it as UTF-8.", field="file"
            ) from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise InvalidInput(f"The CSV cannot be read: {exc}", field="file") from None
    if frame.empty:
        raise InvalidInput("The file has no rows to score.", field="file")
    if len(frame) > max_rows:
        raise InvalidInput(
            f"The file has {len(frame):,} rows; a batch job takes at most {max_rows:,}. Split it.",
            field="file",
        )
    check_columns([str(c) for c in frame.columns], signature=signature)
    return frame


def checked_chunks(
    frame: pd.DataFrame, fmt: str, *, signature: dict[str, Any], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """The model's input, chunk by chunk, each checked like a predict request; `InvalidInput`
    names the first bad cell ("Row 12 (line 13), column 'age' must be a number ...")."""
    features = [f for f in signature.get("features") or []]
    for start in range(0, len(frame), chunk_rows):
        part = frame.iloc[start : start + chunk_rows]
        columns = {
            str(f["name"]): _python_values(
                part[str(f["name"])], csv_numbers=fmt == CSV and f.get("type") == "numeric"
            )
            for f in features
        }

        def where(row: int, name: str, start: int = start) -> str:
            number = start + row + 1
            line = f" (line {number + 1})" if fmt == CSV else ""
            return f"Row {number}{line}, column {name!r}"

        try:
            yield frame_from_columns(columns, signature=signature, where=where)
        except InvalidInput as exc:
            # The JSON hint ("send the number itself") means nothing for a file's cell.
            exc.message = exc.message.replace(" (send the number itself, not a string)", "")
            raise


def _python_values(column: pd.Series, *, csv_numbers: bool) -> list[Any]:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.tolist()  # floats keep NaN, which the check names
    values = column.astype(object).where(column.notna(), None).tolist()
    if csv_numbers:
        # One cell that is not a number makes pandas read the whole CSV column as text: the
        # numbers among them are numbers, and the check names the cell that is not.
        return [_number_or_text(v) for v in values]
    return values


def _number_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def write_result(
    frame: pd.DataFrame,
    *,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    classes: list[Any] | None,
    fmt: str,
    path: Path,
) -> None:
    """The input columns, then the prediction, a probability per class and the confidence."""
    result = frame.copy()
    result[PREDICTION] = predictions
    if probabilities is not None and classes:
        for j, label in enumerate(classes):
            result[f"probability_{label}"] = probabilities[:, j]
        result[CONFIDENCE] = probabilities.max(axis=1)
    if fmt == PARQUET:
        result.to_parquet(path, index=False)
    else:
        result.to_csv(path, index=False)
