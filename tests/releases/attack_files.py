"""Crafted skops and ONNX files from the issue 8 security review, rebuilt for the tests.

Every builder returns bytes (or writes a file) and never loads what it builds.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.tree._tree import Tree

from tests.releases.model_files import skops_logistic_bytes, zip_bytes


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _with_schema(clean: bytes, schema: dict[str, Any], **extra: bytes) -> bytes:
    files = _files(clean)
    files["schema.json"] = json.dumps(schema).encode()
    files.update(extra)
    return zip_bytes(files)


def _logistic_schema() -> tuple[bytes, dict[str, Any]]:
    clean = skops_logistic_bytes()
    return clean, json.loads(_files(clean)["schema.json"])


def exponential_schema_bytes(*, levels: int = 40) -> bytes:
    """A LogisticRegression with one extra attribute: a list whose two items are the same list,
    whose two items are the same list, ``levels`` deep. Each level is written once and
    referenced by ``__id__`` the second time, so the file stays small (about 150 bytes a level)
    while skops' unmemoised audit walks it 2**levels times."""
    clean, schema = _logistic_schema()
    node: dict[str, Any] = {"__class__": "int", "__module__": "builtins", "__loader__": "JsonNode",
                            "content": "1", "__id__": 1_000_000}  # fmt: skip
    for level in range(levels):
        own = 1_000_001 + level
        node = {
            "__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
            "__id__": own, "content": [node, {"__id__": own - 1}],
        }  # fmt: skip
    schema["content"]["content"]["shared"] = node
    return _with_schema(clean, schema)


def shared_array_file_bytes(*, nodes: int = 3000, array_bytes: int = 1 << 20) -> bytes:
    """One large array entry named by thousands of array nodes, each with its own ``__id__``:
    skops would read the entry once per node (gigabytes) while the zip checks see 1 MB."""
    clean, schema = _logistic_schema()
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(array_bytes // 8), allow_pickle=False)
    items = [
        {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode",
         "type": "numpy", "file": "big.npy", "__id__": 2_000_000 + i}
        for i in range(nodes)
    ]  # fmt: skip
    schema["content"]["content"]["arrays"] = {
        "__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
        "__id__": 1_999_999, "content": items,
    }  # fmt: skip
    return _with_schema(clean, schema, **{"big.npy": buffer.getvalue()})


def compressible_schema_bytes(*, size: int) -> bytes:
    """A valid skops file whose schema.json is padded with whitespace to ``size`` bytes: it
    deflates to almost nothing, and a parser would hold all of it."""
    clean, schema = _logistic_schema()
    text = json.dumps(schema)
    padded = text[:-1] + " " * max(0, size - len(text)) + "}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in _files(clean).items():
            if name != "schema.json":
                archive.writestr(name, data)
        archive.writestr("schema.json", padded)
    return buffer.getvalue()


def schema_cycle_bytes() -> bytes:
    """A list that contains itself by ``__id__`` (skops.io.dump never writes a cycle)."""
    clean, schema = _logistic_schema()
    schema["content"]["content"]["loop"] = {
        "__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
        "__id__": 3_000_000, "content": [{"__id__": 3_000_000}],
    }  # fmt: skip
    return _with_schema(clean, schema)


def zip_with_flag_bits(bits: int) -> bytes:
    """A real skops file whose schema.json entry sets general-purpose flag ``bits`` (0x20:
    compressed patched data, 0x40: strong encryption), which zipfile cannot read."""
    data = bytearray(skops_logistic_bytes())
    local = data.index(b"PK\x03\x04" + b"\x14\x00")  # first local header
    central = data.index(b"PK\x01\x02")
    data[local + 6] |= bits & 0xFF
    data[central + 8] |= bits & 0xFF
    return bytes(data)


def list_root_bytes() -> bytes:
    """A skops file whose top object is a plain list, not an estimator."""
    return sio.dumps([1, 2, 3])


def vectorizer_reading_files_bytes() -> bytes:
    """CountVectorizer(input="filename") + LogisticRegression: every evaluation value is opened
    as a path. Only default-trusted types: the type allowlist alone lets it through."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    words = ["alpha beta", "secret key", "beta gamma", "key secret alpha"]
    model = Pipeline(
        [("text", CountVectorizer(token_pattern=r"[a-z]+")), ("model", LogisticRegression())]
    ).fit(words, [0, 1, 0, 1])
    model.named_steps["text"].set_params(input="filename")
    return sio.dumps(model)


def forged_tree_without_n_features_bytes(*, claimed_features: int = 10**7) -> bytes:
    """A decision tree fitted on 2 features whose estimator lost ``n_features_in_`` and whose
    tree claims ``claimed_features`` features and splits on the last one: predict on 2 columns
    would read far outside the input (the segfault in issue 8)."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    model = DecisionTreeClassifier(max_depth=2).fit(X, X[:, 0] > 0)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = claimed_features - 1
    forged = Tree(claimed_features, np.array([model.n_classes_], dtype=np.intp), 1)
    forged.__setstate__({**state, "nodes": nodes})
    model.tree_ = forged
    del model.n_features_in_
    return sio.dumps(model)


def malformed_tree_nested_deep_bytes(*, pipelines: int = 40) -> bytes:
    """A bagging ensemble whose first tree splits on a feature it does not have, wrapped in
    ``pipelines`` nested pipelines: deeper than the old check's recursion limit."""
    from sklearn.ensemble import BaggingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    bagging = BaggingClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=2)
    bagging.fit(X, X[:, 0] > 0)
    tree = bagging.estimators_[0].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = 999
    forged = Tree(tree.n_features, np.asarray(tree.n_classes, dtype=np.intp), tree.n_outputs)
    forged.__setstate__({**state, "nodes": nodes})
    bagging.estimators_[0].tree_ = forged
    model: Any = bagging
    for _ in range(pipelines):
        model = Pipeline([("identity", FunctionTransformer()), ("inner", model)])
    return sio.dumps(model)


def write(tmp_path: Path, data: bytes, name: str = "attack.skops") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path
