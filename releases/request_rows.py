"""Request bodies to model input: parse JSON strictly and check every value against the signature.

Plain module (no Django): serving (``scoring``) and explanations (``explain``) both turn a
caller's rows into the DataFrame a version's model expects, and must refuse the same things
with the same messages. Every refusal is an ``InvalidInput`` (400), ``PayloadTooLarge`` (413)
or ``UnsupportedFormat`` (415) whose ``field`` names the row and the feature
(``instances[3].age``), so a caller knows what to fix.

Checks are column-wise (``set(map(type, column))`` and numpy), so a 10,000-row batch costs
milliseconds; the slow per-row walk only runs to name the first bad cell.

Policy choices:
- Missing values (``null``, ``NaN``, ``Infinity``, ``1e999``) are refused unless the
  signature's feature says ``"allow_missing": true`` (nothing records that today, so: refused).
- Unseen categories are refused unless the feature records ``"handle_unknown": "ignore"`` (the
  model's encoder ignores them), or its category list is empty or was truncated (nothing to
  check against). Refusing is the default because a model that silently scores a typo as "no
  category" gives a confident, wrong answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from releases.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat

BODY_FORMATS = ("instances", "dataframe_split", "dataframe_records")
_NUMBER_TYPES = frozenset({int, float})
_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    type(None): "null",
    list: "a list",
    dict: "an object",
}


def parse_json_body(raw: bytes, *, max_bytes: int) -> Any:
    """The JSON value of a request body, parsed with orjson.

    Too large: 413 (callers should also refuse on Content-Length before reading). Not UTF-8:
    415. Nested deeper than orjson's limit, or not JSON: 400. ``NaN``, ``Infinity`` and
    ``1e999`` are not JSON and orjson refuses them; the body is then parsed again leniently so
    the signature check can name the row and feature that holds them.
    """
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"The request body is {len(raw):,} bytes; the limit is {max_bytes:,}. Send fewer rows "
            "per request.",
            field="body",
        )
    if not raw.strip():
        raise InvalidInput("The request body is empty; send a JSON object.", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
    if "UTF-8" in reason:
        raise UnsupportedFormat(
            "The request body is not valid UTF-8; send JSON encoded as UTF-8.", field="body"
        )
    if "depth limit" in reason:
        raise InvalidInput(
            "The JSON body is nested too deeply; rows are objects or arrays of plain values.",
            field="body",
        )
    # Python's parser differs from strict JSON only in accepting NaN and +-Infinity.
    lenient = _parse_non_finite(raw)
    if lenient is not None:
        return lenient
    raise InvalidInput(f"The request body is not valid JSON: {reason}.", field="body")


def _parse_non_finite(raw: bytes) -> Any:
    """Python's parser accepts NaN, Infinity and 1e999 (as inf); None when it fails too."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def rows_from_body(body: Any, *, signature: dict[str, Any], max_rows: int) -> pd.DataFrame:
    """The rows of a predict body as a DataFrame, columns in signature order, every value
    checked against the signature. Accepts ``{"instances": [{feature: value}, ...]}``,
    ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` and
    ``{"dataframe_records": [{feature: value}, ...]}``."""
    return checked_rows_from_body(body, signature=signature, max_rows=max_rows).frame()


def checked_rows_from_body(body: Any, *, signature: dict[str, Any], max_rows: int) -> Rows:
    """``rows_from_body`` without the DataFrame: the serving hot path feeds the model (and the
    prediction log) from the checked columns directly."""
    if not isinstance(body, dict):
        raise InvalidInput(
            "The body must be a JSON object with one of: " + ", ".join(BODY_FORMATS) + ".",
            field="body",
        )
    present = [key for key in BODY_FORMATS if key in body]
    unknown = [str(key) for key in body if key not in BODY_FORMATS]
    if unknown:
        raise InvalidInput(
            f"Unknown key {unknown[0]!r} in the body; use one of: {', '.join(BODY_FORMATS)}.",
            field=unknown[0],
        )
    if len(present) != 1:
        raise InvalidInput(
            "The body must hold exactly one of: " + ", ".join(BODY_FORMATS) + ".", field="body"
        )
    key = present[0]
    names = feature_names(signature)
    if key == "dataframe_split":
        columns, sent = _split_columns(body[key], names=names, max_rows=max_rows)
        return rows_from_columns(
            columns, signature=signature, where=lambda row, name: _split_where(row, name, sent)
        )
    columns = _record_columns(body[key], key=key, names=names, max_rows=max_rows)
    return rows_from_columns(
        columns, signature=signature, where=lambda row, name: f"{key}[{row}].{name}"
    )


def feature_names(signature: dict[str, Any]) -> list[str]:
    return [str(f["name"]) for f in signature.get("features") or []]


def _split_where(row: int, name: str, sent: list[str]) -> str:
    # Positions in the caller's column order, which may differ from the model's.
    return f"dataframe_split.data[{row}][{sent.index(name)}] ({name})"


def _check_batch_size(count: int, *, field: str, max_rows: int) -> None:
    if count == 0:
        raise InvalidInput("The batch is empty; send at least one row.", field=field)
    if count > max_rows:
        raise PayloadTooLarge(
            f"The batch has {count:,} rows; the limit is {max_rows:,} per request. Split it, "
            "or use batch scoring for large files.",
            field=field,
        )


def _record_columns(
    rows: Any, *, key: str, names: list[str], max_rows: int
) -> dict[str, Sequence[Any]]:
    if not isinstance(rows, list):
        raise InvalidInput(
            f"{key} must be a list of objects, one per row ({{feature: value}}).", field=key
        )
    _check_batch_size(len(rows), field=key, max_rows=max_rows)
    getter = _getter(names)
    if set(map(type, rows)) == {dict} and set(map(len, rows)) == {len(names)}:
        # Objects with as many keys as there are features: if each has every feature, each
        # has exactly the features; pick them in signature order and transpose in C.
        try:
            values = list(map(getter, rows))
        except KeyError:
            pass  # the loop below names the row
        else:
            return dict(zip(names, zip(*values, strict=True), strict=True))
    expected = set(names)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInput(
                f"Row {i} of {key} is {_describe(row)}; each row is an object {{feature: value}}.",
                field=f"{key}[{i}]",
            )
        if row.keys() != expected:
            _refuse_keys(row.keys(), expected, names, where=f"{key}[{i}]", row=i)
    values = list(map(getter, rows))
    return dict(zip(names, zip(*values, strict=True), strict=True))


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names)


def _refuse_keys(got: Any, expected: set[str], names: list[str], *, where: str, row: int) -> None:
    missing = [name for name in names if name not in got]
    if missing:
        raise InvalidInput(
            f"Row {row} is missing feature {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ". The model needs: "
            + ", ".join(names)
            + ".",
            field=f"{where}.{missing[0]}",
        )
    extra = sorted(str(k) for k in got if k not in expected)
    raise InvalidInput(
        f"Row {row} has unknown feature {extra[0]!r}; the model's features are: "
        + ", ".join(names)
        + ".",
        field=f"{where}.{extra[0]}",
    )


def _split_columns(
    split: Any, *, names: list[str], max_rows: int
) -> tuple[dict[str, Sequence[Any]], list[str]]:
    if not isinstance(split, dict) or "data" not in split or "columns" not in split:
        raise InvalidInput(
            'dataframe_split must be an object {"columns": [...], "data": [[...], ...]}.',
            field="dataframe_split",
        )
    extra = [str(k) for k in split if k not in ("columns", "data", "index")]
    if extra:
        raise InvalidInput(
            f"Unknown key {extra[0]!r} in dataframe_split; it holds columns, data and index.",
            field=f"dataframe_split.{extra[0]}",
        )
    columns, data = split["columns"], split["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput(
            "dataframe_split.columns must be a list of feature names.",
            field="dataframe_split.columns",
        )
    if len(set(columns)) != len(columns):
        duplicate = next(c for c in columns if columns.count(c) > 1)
        raise InvalidInput(
            f"Column {duplicate!r} appears twice in dataframe_split.columns.",
            field="dataframe_split.columns",
        )
    if set(columns) != set(names):
        missing = [n for n in names if n not in columns]
        if missing:
            raise InvalidInput(
                f"dataframe_split.columns is missing feature {missing[0]!r}. The model needs: "
                + ", ".join(names)
                + ".",
                field=f"dataframe_split.columns.{missing[0]}",
            )
        unknown = next(c for c in columns if c not in names)
        raise InvalidInput(
            f"dataframe_split.columns has unknown feature {unknown!r}; the model's features "
            "are: " + ", ".join(names) + ".",
            field=f"dataframe_split.columns.{unknown}",
        )
    if not isinstance(data, list):
        raise InvalidInput(
            "dataframe_split.data must be a list of rows (lists of values).",
            field="dataframe_split.data",
        )
    _check_batch_size(len(data), field="dataframe_split.data", max_rows=max_rows)
    width = len(columns)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(
                f"Row {i} of dataframe_split.data must be a list of {width} values, one per "
                f"column; got {_describe(row)}"
                + (f" of {len(row)}" if isinstance(row, list) else "")
                + ".",
                field=f"dataframe_split.data[{i}]",
            )
    transposed = list(zip(*data, strict=True))
    by_name = dict(zip(columns, transposed, strict=True))
    return {name: by_name[name] for name in names}, columns


class Rows:
    """Checked rows in signature order, column by column: what serving feeds a model from
    without building a DataFrame per request (``frame()`` builds it for those that want one).

    ``block`` is set when every feature is a finite float: one ``features x rows`` float64
    array, so a compiled model's inputs are slices of it."""

    __slots__ = ("_frame", "block", "columns", "count", "names")

    def __init__(
        self, names: list[str], columns: dict[str, np.ndarray], *, block: np.ndarray | None = None
    ) -> None:
        self.names = names
        self.columns = columns
        self.block = block
        self.count = len(next(iter(columns.values()))) if columns else 0
        self._frame: pd.DataFrame | None = None

    def __len__(self) -> int:
        return self.count

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            if self.block is not None:
                # One float block: far cheaper for pandas (and then scikit-learn) than column
                # by column.
                self._frame = pd.DataFrame(self.block.T, columns=self.names)
            else:
                self._frame = pd.DataFrame(self.columns, columns=self.names)
        return self._frame

    def records(self) -> list[dict[str, Any]]:
        """One ``{feature: value}`` per row, JSON-ready (NaN as None), for the prediction log."""
        if self.block is not None:  # finite by construction
            return [dict(zip(self.names, row, strict=True)) for row in self.block.T.tolist()]
        columns = [
            [None if v != v else v for v in values.tolist()]  # NaN -> null (JSON)
            if values.dtype.kind == "f"
            else values.tolist()
            for values in self.columns.values()
        ]
        return [dict(zip(self.names, row, strict=True)) for row in zip(*columns, strict=True)]


def frame_from_columns(
    columns: Mapping[str, Sequence[Any]],
    *,
    signature: dict[str, Any],
    where: Callable[[int, str], str],
) -> pd.DataFrame:
    """Check each column against its feature in the signature and build the DataFrame.

    ``where(row, name)`` names a cell in the caller's terms for error messages."""
    return rows_from_columns(columns, signature=signature, where=where).frame()


def rows_from_columns(
    columns: Mapping[str, Sequence[Any]],
    *,
    signature: dict[str, Any],
    where: Callable[[int, str], str],
) -> Rows:
    """``frame_from_columns`` without the DataFrame."""
    features = signature.get("features") or []
    names = [str(f["name"]) for f in features]
    block = _finite_number_block(columns, features=features, names=names)
    if block is not None:
        return Rows(names, dict(zip(names, block, strict=True)), block=block)
    data: dict[str, np.ndarray] = {}
    for feature, name in zip(features, names, strict=True):
        values = columns[name]
        if _kind(feature) == "numeric":
            data[name] = _numeric_column(values, feature=feature, name=name, where=where)
        else:
            data[name] = _categorical_column(values, feature=feature, name=name, where=where)
    if data and all(v.dtype == np.float64 for v in data.values()):
        block = np.stack(list(data.values()))
        return Rows(names, dict(zip(names, block, strict=True)), block=block)
    return Rows(names, data)


def _finite_number_block(
    columns: Mapping[str, Sequence[Any]], *, features: list[dict[str, Any]], names: list[str]
) -> np.ndarray | None:
    """All features numeric, no missing values allowed and every value a finite int or float:
    the ``features x rows`` float64 block in one numpy call. None otherwise, and the column
    checks below then find (and name) what is wrong."""
    if not _all_required_numbers(features):
        return None
    types: set[type] = set()
    for name in names:
        types.update(map(type, columns[name]))
    if not types <= _NUMBER_TYPES:
        return None
    try:
        block = np.array([columns[name] for name in names], dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    if block.ndim != 2 or not np.isfinite(block).all():
        return None
    return block


# id(features list) -> (the list, whether every feature is a number that may not be missing).
# A served version keeps its signature for the life of the process; holding the list keeps
# its id from being reused by another.
_NUMBERS_ONLY: dict[int, tuple[list[dict[str, Any]], bool]] = {}


def _all_required_numbers(features: list[dict[str, Any]]) -> bool:
    cached = _NUMBERS_ONLY.get(id(features))
    if cached is not None and cached[0] is features:
        return cached[1]
    answer = bool(features) and not any(
        _kind(f) != "numeric" or _allows_missing(f) for f in features
    )
    if len(_NUMBERS_ONLY) >= 1024:
        _NUMBERS_ONLY.clear()
    _NUMBERS_ONLY[id(features)] = (features, answer)
    return answer


def _kind(feature: dict[str, Any]) -> str:
    return str(feature.get("type") or feature.get("kind") or "numeric")


def _allows_missing(feature: dict[str, Any]) -> bool:
    return bool(feature.get("allow_missing") or feature.get("nullable"))


def _numeric_column(
    values: Sequence[Any], *, feature: dict[str, Any], name: str, where: Callable[[int, str], str]
) -> np.ndarray:
    allow_missing = _allows_missing(feature)
    types = set(map(type, values))
    allowed = _NUMBER_TYPES | ({type(None)} if allow_missing else set())
    if not types <= allowed:
        row = next(i for i, v in enumerate(values) if type(v) not in allowed)
        value = values[row]
        if value is None:
            raise InvalidInput(
                f"{where(row, name)} is null; the model needs a value for {name!r} in every row.",
                field=where(row, name),
            )
        hint = " (send the number itself, not a string)" if isinstance(value, str) else ""
        raise InvalidInput(
            f"{where(row, name)} must be a number, got {_describe(value)}{hint}.",
            field=where(row, name),
        )
    try:
        array = np.array(
            [np.nan if v is None else v for v in values] if allow_missing else values,
            dtype=np.float64,
        )
    except OverflowError:
        row = next(i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > 1e308)
        raise InvalidInput(
            f"{where(row, name)} is too large for a number.", field=where(row, name)
        ) from None
    if not allow_missing:
        finite = np.isfinite(array)
        if not finite.all():
            row = int(np.argmin(finite))
            raise InvalidInput(
                f"{where(row, name)} is {_non_finite(array[row])}; the model needs a finite "
                f"number for {name!r}.",
                field=where(row, name),
            )
    elif np.isinf(array).any():
        row = int(np.argmax(np.isinf(array)))
        raise InvalidInput(
            f"{where(row, name)} is infinite; send a finite number or null.",
            field=where(row, name),
        )
    return array


def _categorical_column(
    values: Sequence[Any], *, feature: dict[str, Any], name: str, where: Callable[[int, str], str]
) -> np.ndarray:
    categories = feature.get("categories") or []
    allow_missing = _allows_missing(feature)
    # The category list decides which scalar types are right (numbers for a column of codes).
    allowed: set[type] = {type(c) for c in categories} or {str}
    if int in allowed or float in allowed:
        allowed |= _NUMBER_TYPES
    if allow_missing:
        allowed.add(type(None))
    types = set(map(type, values))
    if not types <= allowed:
        row = next(i for i, v in enumerate(values) if type(v) not in allowed)
        value = values[row]
        expected = "a string" if allowed <= {str, type(None)} else "one of the categories"
        if value is None:
            raise InvalidInput(
                f"{where(row, name)} is null; the model needs a value for {name!r} in every row.",
                field=where(row, name),
            )
        raise InvalidInput(
            f"{where(row, name)} must be {expected}, got {_describe(value)}.",
            field=where(row, name),
        )
    checkable = categories and not feature.get("categories_truncated")
    if checkable and feature.get("handle_unknown") != "ignore":
        known = {_category_key(c) for c in categories}
        if allow_missing:
            known.add(_category_key(None))
        unseen = {_category_key(v) for v in values} - known
        if unseen:
            row = next(i for i, v in enumerate(values) if _category_key(v) not in known)
            shown = ", ".join(repr(c) for c in categories[:20])
            more = f" (and {len(categories) - 20} more)" if len(categories) > 20 else ""
            raise InvalidInput(
                f"{where(row, name)} is {values[row]!r}, a category the model never saw; "
                f"{name!r} takes one of: {shown}{more}.",
                field=where(row, name),
            )
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _category_key(value: Any) -> tuple[str, Any]:
    # True == 1 in Python; a category of 1 must not accept true.
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    return ("number", float(value))


def _describe(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"a string ({shown!r})"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _non_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
