"""Request bodies become the model's rows only when every value fits the signature; each refusal
names the row and the feature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from releases.errors import InvalidInput, PayloadTooLarge, UnsupportedFormat
from releases.request_rows import parse_json_body, rows_from_body

SIGNATURE: dict[str, Any] = {
    "task": "classification",
    "features": [
        {"name": "age", "type": "numeric"},
        {"name": "income", "type": "numeric"},
        {"name": "city", "type": "categorical", "categories": ["lyon", "nice", "paris"]},
        {"name": "plan", "type": "categorical", "categories": ["basic", "pro"]},
    ],
    "classes": ["churn", "stay"],
    "target": "churn",
}
ROW = {"age": 30, "income": 51.5, "city": "nice", "plan": "pro"}


def rows(body: Any, *, max_rows: int = 10_000, signature: dict[str, Any] = SIGNATURE) -> Any:
    return rows_from_body(body, signature=signature, max_rows=max_rows)


def refused(body: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        rows(body, **kwargs)
    return exc.value


def test_the_three_body_formats_give_the_same_frame_in_signature_order() -> None:
    second = {"age": 61.0, "income": 40, "city": "lyon", "plan": "basic"}
    from_instances = rows({"instances": [ROW, second]})
    from_records = rows({"dataframe_records": [ROW, second]})
    columns = ["plan", "city", "income", "age"]  # any order the caller likes
    from_split = rows(
        {
            "dataframe_split": {
                "columns": columns,
                "data": [[r[c] for c in columns] for r in (ROW, second)],
            }
        }
    )

    expected = pd.DataFrame(
        {
            "age": [30.0, 61.0],
            "income": [51.5, 40.0],
            "city": np.array(["nice", "lyon"], dtype=object),
            "plan": np.array(["pro", "basic"], dtype=object),
        }
    )
    for frame in (from_instances, from_records, from_split):
        assert list(frame.columns) == ["age", "income", "city", "plan"]
        pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize(
    ("row", "field", "says"),
    [
        ({k: v for k, v in ROW.items() if k != "income"}, "instances[1].income", "missing"),
        ({**ROW, "zip": "75001"}, "instances[1].zip", "unknown feature"),
        ({**ROW, "age": "30"}, "instances[1].age", "must be a number, got a string"),
        ({**ROW, "age": True}, "instances[1].age", "must be a number, got a boolean"),
        ({**ROW, "age": None}, "instances[1].age", "is null"),
        ({**ROW, "age": [30]}, "instances[1].age", "got a list"),
        ({**ROW, "age": {"v": 1}}, "instances[1].age", "got an object"),
        ({**ROW, "age": 10**400}, "instances[1].age", "too large"),
        ({**ROW, "city": "berlin"}, "instances[1].city", "never saw"),
        ({**ROW, "city": 3}, "instances[1].city", "must be a string"),
        ({**ROW, "plan": None}, "instances[1].plan", "is null"),
    ],
)
def test_each_bad_value_is_refused_naming_its_row_and_feature(
    row: dict[str, Any], field: str, says: str
) -> None:
    error = refused({"instances": [ROW, row]})
    assert error.field == field
    assert says in error.message


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_refused_naming_the_row_and_feature(literal: bytes) -> None:
    raw = b'{"dataframe_records": [{"age": 1, "income": 2, "city": "nice", "plan": "pro"}, ' + (
        b'{"age": 1, "income": ' + literal + b', "city": "nice", "plan": "pro"}]}'
    )
    error = refused(parse_json_body(raw, max_bytes=10_000))
    assert error.field == "dataframe_records[1].income"
    assert "finite" in error.message


def test_missing_values_are_accepted_where_the_signature_allows_them() -> None:
    signature = {
        **SIGNATURE,
        "features": [
            {**SIGNATURE["features"][0], "allow_missing": True},
            *SIGNATURE["features"][1:],
        ],
    }
    frame = rows({"instances": [{**ROW, "age": None}]}, signature=signature)
    assert np.isnan(frame["age"][0])


def test_unseen_categories_pass_when_the_encoder_ignores_them() -> None:
    features = [dict(f) for f in SIGNATURE["features"]]
    features[2]["handle_unknown"] = "ignore"
    frame = rows(
        {"instances": [{**ROW, "city": "berlin"}]}, signature={**SIGNATURE, "features": features}
    )
    assert frame["city"][0] == "berlin"


def test_a_split_body_names_the_cell_in_the_callers_column_order() -> None:
    body = {
        "dataframe_split": {
            "columns": ["plan", "city", "income", "age"],
            "data": [["pro", "nice", "x", 3]],
        }
    }
    error = refused(body)
    assert error.field == "dataframe_split.data[0][2] (income)"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"dataframe_split": {"columns": ["age", "income", "city"], "data": [[1, 2, "nice"]]}},
            "dataframe_split.columns.plan",
        ),
        (
            {
                "dataframe_split": {
                    "columns": ["age", "income", "city", "plan"],
                    "data": [[1, 2, "nice"]],
                }
            },
            "dataframe_split.data[0]",
        ),
        ({"instances": [ROW], "dataframe_records": [ROW]}, "body"),
        ({"inputs": [ROW]}, "inputs"),
        ([ROW], "body"),
        ({"instances": {"age": 1}}, "instances"),
        ({"instances": [ROW, 5]}, "instances[1]"),
    ],
)
def test_malformed_bodies_are_refused_naming_what_is_wrong(body: Any, field: str) -> None:
    assert refused(body).field == field


def test_empty_batches_are_refused() -> None:
    assert "empty" in refused({"instances": []}).message
    assert "empty" in refused({"dataframe_split": {"columns": list(ROW), "data": []}}).message


def test_batches_over_the_row_limit_are_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        rows({"instances": [ROW] * 11}, max_rows=10)
    assert exc.value.status_code == 413
    assert "limit is 10" in exc.value.message


def test_bodies_over_the_byte_limit_are_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_json_body(b"[" + b"1," * 1000 + b"1]", max_bytes=100)


def test_non_utf8_bodies_are_an_unsupported_format() -> None:
    with pytest.raises(UnsupportedFormat):
        parse_json_body(b'{"instances": [{"city": "\xff"}]}', max_bytes=1000)


def test_deeply_nested_json_is_refused_without_a_crash() -> None:
    with pytest.raises(InvalidInput, match="nested too deeply"):
        parse_json_body(b"[" * 5000 + b"]" * 5000, max_bytes=100_000)
    # Nesting under the parser's limit is parsed, then refused where a value belongs.
    body = parse_json_body(
        b'{"instances": [{"age": '
        + b"[" * 500
        + b"]" * 500
        + b', "income": 1, "city": "nice", "plan": "pro"}]}',
        max_bytes=100_000,
    )
    assert refused(body).field == "instances[0].age"


def test_invalid_json_is_refused_with_the_parsers_position() -> None:
    with pytest.raises(InvalidInput, match=r"not valid JSON.*line 1"):
        parse_json_body(b'{"instances": [', max_bytes=1000)
