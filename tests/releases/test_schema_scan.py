"""ModelGate's own linear scan of schema.json: agrees with skops on real models, stays bounded
on crafted ones (the web process never runs skops' exponential audit)."""

from __future__ import annotations

import io
import json
import os
import time
import warnings
import zipfile
from typing import Any

import numpy as np
import pytest
import sklearn
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from releases.artifact_safety import UnsafeArtifact, check_zip, scan_skops_schema
from releases.artifact_safety.schema_scan import AUDIT_VISIT_BUDGET, scan_schema_bytes
from tests.releases import attack_files as af
from tests.releases import model_files as mf
from tests.releases.model_zoo import MODEL_NAMES, zoo_skops_bytes

LIMITS: dict[str, Any] = {"max_uncompressed_bytes": 50 * 1024**2, "max_entries": 1000}


def _scan(data: bytes, **kwargs: Any) -> Any:
    return scan_skops_schema(source=io.BytesIO(data), **kwargs)


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings from the tiny zoo fits
        yield


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_scan_agrees_with_skops_on_every_model_of_the_trusted_types_derivation(name: str) -> None:
    data = zoo_skops_bytes(name)

    scan = _scan(data)

    assert scan.names == sio.get_untrusted_types(data=data)
    assert scan.sklearn_version == sklearn.__version__
    assert scan.root_is_object
    assert scan.audit_visits <= AUDIT_VISIT_BUDGET


@pytest.mark.parametrize(
    "build",
    [
        mf.skops_pipeline_bytes,
        mf.skops_knn_bytes,
        lambda: mf.skops_function_transformer_bytes(np.load),
        lambda: mf.skops_function_transformer_bytes(os.system),
        lambda: mf.skops_function_transformer_bytes(eval),
        lambda: mf.skops_schema_pointing_at("os", "system"),
        lambda: mf.skops_schema_pointing_at("hydra.utils", "instantiate"),
        lambda: sio.dumps({"a": [1, 2.5, "x"], "b": (np.float64(1.0), {3})}),
        lambda: sio.dumps(np.random.default_rng(0)),
        lambda: sio.dumps(np.random.RandomState(0)),
    ],
    ids=[
        "pipeline", "knn", "np-load", "os-system", "eval", "edited-os-system", "edited-hydra",
        "containers", "generator", "random-state",
    ],
)  # fmt: skip
def test_scan_agrees_with_skops_on_functions_containers_and_hand_edited_names(build: Any) -> None:
    data = build()
    assert _scan(data).names == sio.get_untrusted_types(data=data)


def test_scan_says_which_names_are_functions() -> None:
    scan = _scan(mf.skops_function_transformer_bytes(np.load))
    assert scan.types == {"numpy.load": "function"}
    builtin = _scan(mf.skops_function_transformer_bytes(eval))
    assert builtin.types == {"builtins.eval": "unknown"}  # a TypeNode: class or builtin
    assert _scan(mf.skops_knn_bytes()).types["sklearn.neighbors._kd_tree.KDTree"] == "class"


def test_exponential_sharing_is_refused_in_milliseconds_where_skops_takes_exponential_time() -> (
    None
):
    small = af.exponential_schema_bytes(levels=12)
    started = time.perf_counter()
    sio.get_untrusted_types(data=small)
    skops_small = time.perf_counter() - started
    started = time.perf_counter()
    sio.get_untrusted_types(data=af.exponential_schema_bytes(levels=16))
    skops_larger = time.perf_counter() - started
    assert skops_larger > 4 * skops_small  # 16x the work for 4 more levels: skops is exponential

    attack = af.exponential_schema_bytes(levels=60)  # 2**60 visits for skops
    assert len(attack) < 20_000
    started = time.perf_counter()
    with pytest.raises(UnsafeArtifact) as caught:
        _scan(attack)
    assert time.perf_counter() - started < 1.0
    assert caught.value.code == "schema_too_complex"
    # Small sharing is fine: what skops would walk is counted, and it is small.
    assert _scan(small).audit_visits < AUDIT_VISIT_BUDGET


def test_one_array_entry_named_by_thousands_of_nodes_is_refused_before_any_is_read() -> None:
    attack = af.shared_array_file_bytes(nodes=3000, array_bytes=1 << 20)
    with pytest.raises(UnsafeArtifact) as caught:
        _scan(attack)
    assert caught.value.code == "shared_array_file"


def test_schema_over_the_byte_cap_is_refused_without_being_read() -> None:
    attack = af.compressible_schema_bytes(size=4 * 1024**2)
    assert len(attack) < 64 * 1024
    with pytest.raises(UnsafeArtifact) as caught:
        _scan(attack, max_schema_bytes=1024**2)
    assert caught.value.code == "schema_too_large"
    assert "MODELGATE_MAX_SCHEMA_BYTES" in caught.value.message


def test_schema_with_too_many_items_is_refused_before_parsing() -> None:
    schema = b"[" + b"{}," * 100_000 + b"{}]"
    with pytest.raises(UnsafeArtifact) as caught:
        scan_schema_bytes(schema, entry_sizes={}, max_schema_bytes=len(schema) + 1)
    assert caught.value.code == "schema_too_complex"


@pytest.mark.parametrize(
    ("schema", "phrase"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"not json", "not valid JSON"),
        (b"[]", "does not describe an object"),
        (b'{"protocol": 99, "__loader__": "ObjectNode"}', "protocol"),
        (b'{"protocol": 2, "__loader__": "EvilNode", "__class__": "a", "__module__": "b"}',
         "unknown node type"),
        (b'{"protocol": 2, "__loader__": "CachedNode", "__class__": "a", "__module__": "b",'
         b' "__id__": 7}', "does not exist"),
        (b'{"protocol": 2, "__loader__": "ObjectNode", "__class__": 5, "__module__": "b"}',
         "lacks"),
        (b'{"protocol": 2, "__loader__": "NdArrayNode", "__class__": "ndarray",'
         b' "__module__": "numpy", "type": "numpy", "file": "missing.npy"}', "does not contain"),
    ],
    ids=["deep", "not-json", "list", "protocol", "loader", "dangling", "class-type", "no-file"],
)  # fmt: skip
def test_malformed_schemas_are_refused_as_corrupt_with_a_sentence(
    schema: bytes, phrase: str
) -> None:
    with pytest.raises(UnsafeArtifact) as caught:
        scan_schema_bytes(schema, entry_sizes={}, max_schema_bytes=10**7)
    assert caught.value.code == "corrupt"
    assert phrase in caught.value.message
    assert "skops.io.dump" in caught.value.message


def test_a_reference_cycle_is_refused() -> None:
    with pytest.raises(UnsafeArtifact, match="contains itself"):
        _scan(af.schema_cycle_bytes())


def test_a_plain_list_root_is_reported_as_not_an_object() -> None:
    scan = _scan(af.list_root_bytes())
    assert not scan.root_is_object and scan.root_type == "builtins.list"


def test_the_first_node_with_an_id_wins_as_in_skops_memo() -> None:
    """A later node reusing an __id__ is never built by skops: its names must not count."""
    clean = sio.dumps(FunctionTransformer(func=np.log1p))
    with zipfile.ZipFile(io.BytesIO(clean)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(files["schema.json"])
    func = schema["content"]["content"]["func"]
    schema["content"]["content"]["other"] = {**func, "__module__": "os", "__class__": "system"}
    files["schema.json"] = json.dumps(schema).encode()
    data = mf.zip_bytes(files)

    assert _scan(data).names == sio.get_untrusted_types(data=data) == []


@pytest.mark.parametrize("bits", [0x20, 0x40])
def test_zip_with_unsupported_flag_bits_is_refused_as_corrupt(tmp_path: Any, bits: int) -> None:
    path = af.write(tmp_path, af.zip_with_flag_bits(bits))
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "corrupt"
