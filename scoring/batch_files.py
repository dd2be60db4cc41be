"""Batch files: what an uploaded CSV or Parquet file holds, checked against a signature, and the
result file written beside it.

Plain module (no Django). The header is checked while the caller waits (`read_header`,
`check_columns`); the rows are read and checked in the worker (`read_frame`, `check_rows`),
chunk by chunk with the same column-wise checks and messages as predict
(``releases.request_rows``), so a bad cell is named by its row and column.

Policy for bad cells: the rows holding them are set aside and listed in an errors file (row,
column, the same sentence predict would give), and the other rows are scored; the job says how
many were set aside. A file with more bad rows than ``MODELGATE_BATCH_MAX_BAD_ROWS`` (or with no
good row) fails as a whole, naming the first bad cell: past a few, bad rows mean a wrong export,
and a result with most rows missing would be easy to take for a complete one. Set the limit to 0
for predict's all-or-nothing rule.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CheckedRows:
    """The model's input for the rows that passed, their positions in the file, and one entry
    per row that did not (``row`` 1-based, ``column``, ``error`` sentence)."""

    frame: pd.DataFrame
    kept: np.ndarray
    errors: list[dict[str, Any]]


def check_rows(
    frame: pd.DataFrame,
    fmt: str,
    *,
    signature: dict[str, Any],
    chunk_rows: int,
    max_bad_rows: int,
) -> CheckedRows:
    """Check every row like a predict request, chunk by chunk (column-wise, so cheap). A row with
    a bad cell is set aside with a sentence naming its row and column ("Row 12 (line 13), column
    'age' must be a number, got a string ('forty')."), and the rest is checked again; past
    ``max_bad_rows`` such rows, or when no row is left, the whole file is refused
    (`InvalidInput`) with the first sentence: that file needs fixing, not skipping."""
    features = list(signature.get("features") or [])
    parts: list[pd.DataFrame] = []
    kept: list[np.ndarray] = []
    errors: list[dict[str, Any]] = []
    for start in range(0, len(frame), chunk_rows):
        positions = np.arange(start, min(start + chunk_rows, len(frame)))
        while positions.size:
            part = frame.iloc[positions]
            columns = {
                str(f["name"]): _python_values(
                    part[str(f["name"])], csv_numbers=fmt == CSV and f.get("type") == "numeric"
                )
                for f in features
            }
            spot: dict[str, Any] = {}

            def where(
                row: int, name: str, positions: np.ndarray = positions, spot: dict[str, Any] = spot
            ) -> str:
                number = int(positions[row]) + 1
                spot.update(row=row, number=number, column=name)
                line = f" (line {number + 1})" if fmt == CSV else ""
                return f"Row {number}{line}, column {name!r}"

            try:
                parts.append(frame_from_columns(columns, signature=signature, where=where))
            except InvalidInput as exc:
                if "row" not in spot:
                    raise
                # The JSON hint ("send the number itself") means nothing for a file's cell.
                message = exc.message.replace(" (send the number itself, not a string)", "")
                errors.append({"row": spot["number"], "column": spot["column"], "error": message})
                if len(errors) > max_bad_rows:
                    raise InvalidInput(_refusal(errors, max_bad_rows), field="file") from None
                positions = np.delete(positions, spot["row"])
                continue
            kept.append(positions)
            break
    if not kept:
        raise InvalidInput(
            f"No row of the file can be scored. {errors[0]['error']} Fix the file and upload it "
            "again.",
            field="file",
        )
    return CheckedRows(
        frame=pd.concat(parts, ignore_index=True), kept=np.concatenate(kept), errors=errors
    )


def _refusal(errors: list[dict[str, Any]], max_bad_rows: int) -> str:
    if max_bad_rows == 0:
        return str(errors[0]["error"])
    return (
        f"More than {max_bad_rows:,} rows have values the model cannot take, so the file was not "
        f"scored. The first: {errors[0]['error']} Fix the file and upload it again."
    )


def write_errors(errors: list[dict[str, Any]], *, fmt: str, path: Path) -> None:
    """The rows set aside: their number in the file (and line, for a CSV), column and why."""
    table = pd.DataFrame(errors, columns=["row", "column", "error"])
    if fmt == CSV:
        table.insert(1, "line", table["row"] + 1)
    table.to_csv(path, index=False)


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
        _write_csv(result, path)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Arrow's CSV writer: about 7x faster than pandas' on float columns, and its numbers read
    back to the same floats."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):  # a column of mixed types
        frame.to_csv(path, index=False)
        return
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(quoting_style="needed"))
