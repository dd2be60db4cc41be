"""Reading a v2 request: JSON or Triton's binary tensor extension, tensors to feature columns,
and the output tensors.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
from django.conf import settings
from django.http import HttpRequest

from releases.errors import InvalidInput, PayloadTooLarge
from releases.request_rows import feature_names, parse_json_body

_NUMERIC_TYPES = {
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8", "INT8": "<i1", "INT16": "<i2", "INT32": "<i4",
    "INT64": "<i8", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
}  # fmt: skip


def _tensor(name: str, data: Any, datatype: str, shape: list[int]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def _kind(feature: dict[str, Any]) -> str:
    return str(feature.get("type") or feature.get("kind") or "numeric")


def _label_type(signature: dict[str, Any]) -> str:
    if signature.get("task") == "regression":
        return "FP64"
    classes = signature.get("classes") or []
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    return "BYTES"


def _requested_outputs(body: dict[str, Any]) -> set[str] | None:
    outputs = body.get("outputs")
    if not outputs:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidInput('outputs must be a list of {"name": ...}.', field="outputs")
    return {o["name"] for o in outputs}


def _read(request: HttpRequest) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the binary tail (empty without the binary extension)."""
    limit = settings.MODELGATE_PREDICT_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput("Content-Length is not a number.", field="Content-Length") from None
    if declared > limit:
        raise PayloadTooLarge(
            f"The request body is {declared:,} bytes; the limit is {limit:,}.", field="body"
        )
    raw = request.read(limit + 1)
    header_length = request.META.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
    tail = b""
    if header_length is not None:
        try:
            cut = int(header_length)
        except ValueError:
            raise InvalidInput(
                "Inference-Header-Content-Length is not a number.",
                field="Inference-Header-Content-Length",
            ) from None
        if not 0 < cut <= len(raw):
            raise InvalidInput(
                "Inference-Header-Content-Length is past the end of the body.",
                field="Inference-Header-Content-Length",
            )
        raw, tail = raw[:cut], raw[cut:]
    body = parse_json_body(raw, max_bytes=limit)
    if not isinstance(body, dict):
        raise InvalidInput('The body must be an object {"inputs": [...]}.', field="body")
    return body, tail


def _columns(
    body: dict[str, Any], binary: bytes, *, signature: dict[str, Any]
) -> tuple[dict[str, list[Any]], Any]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput(
            'inputs must be a non-empty list of tensors {"name", "shape", "datatype", "data"}.',
            field="inputs",
        )
    names = feature_names(signature)
    features = {str(f["name"]): f for f in signature.get("features") or []}
    offset = 0
    tensors: list[tuple[int, str, list[int], str, list[Any]]] = []
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise InvalidInput(f"inputs[{i}] must be an object.", field=f"inputs[{i}]")
        name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
        if not isinstance(name, str) or not isinstance(datatype, str):
            raise InvalidInput(f"inputs[{i}] needs a name and a datatype.", field=f"inputs[{i}]")
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= 2
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise InvalidInput(
                f"inputs[{i}] ({name}): shape must be [rows] or [rows, columns].",
                field=f"inputs[{i}].shape",
            )
        count = math.prod(shape)
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise InvalidInput(
                    f"inputs[{i}] ({name}): binary_data_size runs past the body.",
                    field=f"inputs[{i}].parameters.binary_data_size",
                )
            data = _decode_binary(binary[offset : offset + size], datatype, i, name)
            offset += size
        else:
            data = _flatten(tensor.get("data"), i, name)
        if len(data) != count:
            raise InvalidInput(
                f"inputs[{i}] ({name}): shape {shape} needs {count} values, got {len(data)}.",
                field=f"inputs[{i}].data",
            )
        tensors.append((i, name, shape, datatype, data))

    rows = tensors[0][2][0]
    if rows == 0:
        raise InvalidInput("The batch is empty; send at least one row.", field="inputs[0].shape")
    if rows > settings.MODELGATE_PREDICT_MAX_ROWS:
        raise PayloadTooLarge(
            f"The batch has {rows:,} rows; the limit is {settings.MODELGATE_PREDICT_MAX_ROWS:,}.",
            field="inputs[0].shape",
        )

    if len(tensors) == 1 and (len(names) > 1 or tensors[0][1] not in features):
        i, name, shape, datatype, data = tensors[0]
        if any(_kind(features[n]) != "numeric" for n in names):
            raise InvalidInput(
                f"One input for all features works for all-numeric models only; send one input "
                f"per feature ({', '.join(names)}).",
                field=f"inputs[{i}]",
            )
        if datatype not in ("FP32", "FP64") or len(shape) != 2 or shape[1] != len(names):
            raise InvalidInput(
                f"inputs[{i}] ({name}): send an FP32 or FP64 tensor of shape "
                f"[rows, {len(names)}], columns in this order: {', '.join(names)}.",
                field=f"inputs[{i}]",
            )
        width = len(names)
        columns = {n: data[j::width] for j, n in enumerate(names)}
        return columns, lambda row, n: f"inputs[{i}].data[{row}][{names.index(n)}] ({n})"

    by_name: dict[str, tuple[int, list[Any]]] = {}
    for i, name, shape, datatype, data in tensors:
        if name not in features:
            raise InvalidInput(
                f"inputs[{i}]: unknown feature {name!r}; the model's features are: "
                + ", ".join(names)
                + ".",
                field=f"inputs[{i}].name",
            )
        if name in by_name:
            raise InvalidInput(f"inputs[{i}]: {name!r} is sent twice.", field=f"inputs[{i}].name")
        if (len(shape) == 2 and shape[1] != 1) or shape[0] != rows:
            raise InvalidInput(
                f"inputs[{i}] ({name}): shape must be [{rows}] or [{rows}, 1], like the others.",
                field=f"inputs[{i}].shape",
            )
        categorical = _kind(features[name]) == "categorical"
        if categorical and datatype != "BYTES":
            raise InvalidInput(
                f"inputs[{i}] ({name}) is categorical: send it as BYTES (strings).",
                field=f"inputs[{i}].datatype",
            )
        if not categorical and datatype not in _NUMERIC_TYPES:
            raise InvalidInput(
                f"inputs[{i}] ({name}) is numeric: send it as FP32, FP64 or INT*, not {datatype}.",
                field=f"inputs[{i}].datatype",
            )
        by_name[name] = (i, data)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InvalidInput(
            f"Missing input for feature {missing[0]!r}; the model needs: {', '.join(names)}.",
            field=f"inputs.{missing[0]}",
        )
    positions = {n: by_name[n][0] for n in names}
    return (
        {n: by_name[n][1] for n in names},
        lambda row, n: f"inputs[{positions[n]}].data[{row}] ({n})",
    )


def _flatten(data: Any, i: int, name: str) -> list[Any]:
    """Row-major flat values; nested lists (one level per dimension) are accepted."""
    if not isinstance(data, list):
        raise InvalidInput(
            f"inputs[{i}] ({name}): data must be a list of values.", field=f"inputs[{i}].data"
        )
    if data and isinstance(data[0], list):
        flat: list[Any] = []
        for j, row in enumerate(data):
            if not isinstance(row, list) or any(isinstance(v, list | dict) for v in row):
                raise InvalidInput(
                    f"inputs[{i}] ({name}): data[{j}] must be a list of plain values.",
                    field=f"inputs[{i}].data[{j}]",
                )
            flat.extend(row)
        return flat
    return data


def _decode_binary(blob: bytes, datatype: str, i: int, name: str) -> list[Any]:
    if datatype in _NUMERIC_TYPES:
        dtype = np.dtype(_NUMERIC_TYPES[datatype])
        if len(blob) % dtype.itemsize:
            raise InvalidInput(
                f"inputs[{i}] ({name}): {len(blob)} bytes is not a whole number of {datatype}.",
                field=f"inputs[{i}].parameters.binary_data_size",
            )
        array = np.frombuffer(blob, dtype=dtype)
        # Python numbers, so the same checks as JSON apply (NaN and Infinity included).
        return array.astype(np.float64).tolist() if array.dtype.kind == "f" else array.tolist()
    if datatype == "BYTES":
        values: list[Any] = []
        at = 0
        while at < len(blob):
            if at + 4 > len(blob):
                raise InvalidInput(
                    f"inputs[{i}] ({name}): truncated BYTES tensor.",
                    field=f"inputs[{i}].parameters.binary_data_size",
                )
            (length,) = struct.unpack_from("<I", blob, at)
            at += 4
            chunk = blob[at : at + length]
            at += length
            try:
                values.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidInput(
                    f"inputs[{i}] ({name}): value {len(values)} is not UTF-8 text.",
                    field=f"inputs[{i}].data[{len(values)}]",
                ) from None
        return values
    raise InvalidInput(
        f"inputs[{i}] ({name}): datatype {datatype} is not supported here; use FP32, FP64, "
        "INT* or BYTES.",
        field=f"inputs[{i}].datatype",
    )
