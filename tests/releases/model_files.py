"""Builders for the files tests upload: tiny models trained on synthetic data, evaluation CSVs,
and the malicious files an attacker would send. Every builder returns bytes; nothing is
downloaded and nothing here loads what it builds.

Expensive builders are cached: call them freely from many tests.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import struct
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["age", "income", "city", "plan"]
NUMERIC = ["age", "income"]
CATEGORICAL = ["city", "plan"]
TARGET = "churn"


class ReducePayload:
    """Unpickling this runs ``touch <marker>``: the marker file proves whether code ran."""

    def __init__(self, marker: Path | str) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@cache
def tabular() -> tuple[pd.DataFrame, np.ndarray]:
    """120 rows: two numeric and two string features, a string target."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 120).astype(float),
            "income": rng.normal(50, 10, 120),
            "city": rng.choice(["paris", "lyon", "nice"], 120),
            "plan": rng.choice(["basic", "pro"], 120),
        }
    )
    target = np.where((frame["income"] > 50) ^ (frame["city"] == "nice"), "churn", "stay")
    return frame, target


@cache
def pipeline_model() -> Any:
    """Pipeline(ColumnTransformer(OneHotEncoder, StandardScaler), LogisticRegression), fitted."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, target = tabular()
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", StandardScaler(), NUMERIC),
        ]
    )
    return Pipeline([("pre", pre), ("model", LogisticRegression())]).fit(frame, target)


def _skops(obj: Any) -> bytes:
    import skops.io as sio

    return sio.dumps(obj)


@cache
def skops_pipeline_bytes() -> bytes:
    """A clean skops file every default policy accepts (no types needing trust)."""
    return _skops(pipeline_model())


@cache
def skops_logistic_bytes(c: float = 1.0) -> bytes:
    """A small numeric-only LogisticRegression; different ``c`` gives different bytes."""
    from sklearn.linear_model import LogisticRegression

    frame, target = tabular()
    return _skops(LogisticRegression(C=c).fit(frame[NUMERIC], target))


# What skops reports for `skops_knn_bytes()`: types the shipped allowlist leaves to a reviewer.
KNN_UNTRUSTED_TYPES = [
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
]


@cache
def skops_knn_bytes() -> bytes:
    """KNN on a KD-tree: skops reports KDTree etc., which the allowlist leaves to a reviewer."""
    from sklearn.neighbors import KNeighborsClassifier

    frame, target = tabular()
    return _skops(KNeighborsClassifier(algorithm="kd_tree").fit(frame[NUMERIC], target))


@cache
def onnx_model_bytes() -> bytes:
    """A LogisticRegression on the numeric features converted by skl2onnx."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    frame, target = tabular()
    x = frame[NUMERIC].to_numpy(np.float32)
    model = LogisticRegression().fit(x, target)
    return to_onnx(model, x[:1], options={"zipmap": False}).SerializeToString()


def evaluation_csv_bytes(*, target: str = TARGET, rows: int = 40) -> bytes:
    """Features plus the target column (named ``target``), as UTF-8 CSV."""
    frame, labels = tabular()
    out = frame.head(rows).copy()
    out[target] = labels[:rows]
    return out.to_csv(index=False).encode()


def evaluation_csv_without_target_bytes() -> bytes:
    frame, _ = tabular()
    return frame.head(20).to_csv(index=False).encode()


# --- malicious and unusable files ---------------------------------------------------------------


def pickle_reduce_payload(marker_path: Path | str, *, protocol: int = 4) -> bytes:
    """A pickle that runs ``touch marker_path`` when loaded."""
    return pickle.dumps(ReducePayload(marker_path), protocol=protocol)


def joblib_dump_bytes(*, compress: Any = 0) -> bytes:
    """A real fitted model saved with joblib.dump (compress=0 plain, 3 zlib, ("gzip", 3)...)."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    frame, target = tabular()
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression().fit(frame[NUMERIC], target), buffer, compress=compress)
    return buffer.getvalue()


def skops_function_transformer_bytes(func: Callable[..., Any]) -> bytes:
    """FunctionTransformer(func=...) dumped by skops: the schema names the function."""
    from sklearn.preprocessing import FunctionTransformer

    return _skops(FunctionTransformer(func=func))


def skops_schema_pointing_at(module: str, name: str) -> bytes:
    """A genuine skops file whose schema.json was hand-edited to name ``module.name``."""
    clean = skops_function_transformer_bytes(np.log1p)
    with zipfile.ZipFile(io.BytesIO(clean)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(files["schema.json"])
    schema["content"]["content"]["func"].update({"__module__": module, "__class__": name})
    files["schema.json"] = json.dumps(schema).encode()
    return zip_bytes(files)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def zip_with_entry(name: str, data: bytes = b"x") -> bytes:
    """A zip holding one entry under ``name`` verbatim (``../evil``, ``/etc/passwd``)."""
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # ZipInfo() would normalise a leading "/" away
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data)
    return buffer.getvalue()


def zip_with_symlink(target: str = "/etc/passwd") -> bytes:
    link = zipfile.ZipInfo("schema.json")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(link, target.encode())
    return buffer.getvalue()


def zip_bomb_bytes(*, expanded_bytes: int) -> bytes:
    """A zip whose one entry honestly declares and expands to ``expanded_bytes`` of zeros,
    written in chunks so building a large one never holds it in memory."""
    buffer = io.BytesIO()
    chunk = bytes(1 << 20)
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("schema.json", "w", force_zip64=True) as entry,
    ):
        left = expanded_bytes
        while left > 0:
            entry.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
    return buffer.getvalue()


def zip_lying_about_size_bytes(*, expanded_bytes: int, declared_bytes: int = 1000) -> bytes:
    """A zip whose headers declare ``declared_bytes`` but whose data inflates much further."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", bytes(expanded_bytes))
    data = bytearray(buffer.getvalue())
    # Uncompressed size sits at offset 22 of the local header and 24 of the central one.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        data[at + offset : at + offset + 4] = struct.pack("<I", declared_bytes)
    return bytes(data)


def random_bytes(size: int = 4096, *, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).bytes(size)


__all__ = [
    "CATEGORICAL",
    "FEATURES",
    "KNN_UNTRUSTED_TYPES",
    "NUMERIC",
    "TARGET",
    "ReducePayload",
    "evaluation_csv_bytes",
    "evaluation_csv_without_target_bytes",
    "joblib_dump_bytes",
    "onnx_model_bytes",
    "pickle_reduce_payload",
    "pipeline_model",
    "random_bytes",
    "skops_function_transformer_bytes",
    "skops_knn_bytes",
    "skops_logistic_bytes",
    "skops_pipeline_bytes",
    "skops_schema_pointing_at",
    "tabular",
    "zip_bomb_bytes",
    "zip_bytes",
    "zip_lying_about_size_bytes",
    "zip_with_entry",
    "zip_with_symlink",
]


VERSIONS_URL = "/api/v1/models/credit-risk/versions/"


def upload(
    client: Any,
    artifact: bytes,
    filename: str = "model.skops",
    url: str = VERSIONS_URL,
    **fields: Any,
) -> Any:
    """POST a version through the API as multipart, the way clients do."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data: dict[str, Any] = {"artifact": SimpleUploadedFile(filename, artifact)}
    if "evaluation_data" in fields:
        data["evaluation_data"] = SimpleUploadedFile("eval.csv", fields.pop("evaluation_data"))
    data.update(fields)
    return client.post(url, data, format="multipart")


def files_under(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
