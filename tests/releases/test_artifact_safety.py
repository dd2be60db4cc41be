"""Security tests for releases.artifact_safety: each one performs the attack it names."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import zipfile
from pathlib import Path
from typing import Any

import cloudpickle
import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io as sio
from onnx import TensorProto, helper
from onnx.external_data_helper import set_external_data
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree

from releases.artifact_safety import (
    DEFAULT_TRUSTED_TYPES,
    SNIFF_BYTES,
    UnsafeArtifact,
    check_onnx,
    check_zip,
    classify_untrusted,
    describe_estimator,
    is_forbidden_type,
    load_onnx,
    load_skops,
    skops_untrusted_types,
    sniff_format,
)
from tests.releases import model_files

LIMITS: dict[str, Any] = {"max_uncompressed_bytes": 50 * 1024**2, "max_entries": 1000}


class _Payload:
    """Unpickling this runs ``touch <marker>``: the marker proves whether code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture(scope="module")
def tabular() -> tuple[pd.DataFrame, np.ndarray]:
    return model_files.tabular()


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)


def _dump(obj: Any, path: Path) -> Path:
    sio.dump(obj, path)
    return path


def _pipeline(model: Any) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    return Pipeline([("pre", pre), ("model", model)])


# --- sniffing: pickles are refused by content, never executed -----------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_with_reduce_payload_is_refused_without_running(
    tmp_path: Path, marker: Path, protocol: int
) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=protocol))

    with pytest.raises(UnsafeArtifact) as caught:
        sniff_format(head=_head(path))

    assert caught.value.code == "pickle_refused"
    assert "skops" in str(caught.value) and str(caught.value) == caught.value.message
    assert not marker.exists()


def test_pickle_named_skops_is_still_refused(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=0))

    with pytest.raises(UnsafeArtifact) as caught:
        sniff_format(head=_head(path))

    assert caught.value.code == "pickle_refused"
    assert not marker.exists()


def test_truncated_pickle_head_is_refused(marker: Path) -> None:
    blob = pickle.dumps([_Payload(marker), *range(5000)], protocol=1)
    assert len(blob) > SNIFF_BYTES
    with pytest.raises(UnsafeArtifact, match="pickle"):
        sniff_format(head=blob[:SNIFF_BYTES])


@pytest.mark.parametrize(
    "compress", [0, 3, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)]
)
def test_joblib_dumps_are_refused_plain_or_compressed(
    tmp_path: Path, compress: Any, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    path = tmp_path / "model.skops"
    joblib.dump(LogisticRegression().fit(frame[["age", "income"]], target), path, compress=compress)

    with pytest.raises(UnsafeArtifact) as caught:
        sniff_format(head=_head(path))

    assert caught.value.code == "pickle_refused"
    assert "joblib" in caught.value.message


def test_cloudpickle_is_refused(marker: Path) -> None:
    blob = cloudpickle.dumps(lambda: os.system(f"touch {marker}"))  # noqa: S605
    with pytest.raises(UnsafeArtifact) as caught:
        sniff_format(head=blob[:SNIFF_BYTES])
    assert caught.value.code == "pickle_refused"
    assert not marker.exists()


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"age,income,city\n1,2,paris\n",
        b'{"model": "json"}',
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'}",
        bytes(range(256)) * 4,
    ],
)
def test_unrecognised_content_is_refused_as_unknown_format(head: bytes) -> None:
    with pytest.raises(UnsafeArtifact) as caught:
        sniff_format(head=head)
    assert caught.value.code == "unknown_format"


def test_skops_and_onnx_files_are_recognised_by_content(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    model = LogisticRegression().fit(frame[["age", "income"]].to_numpy(np.float32), target)
    skops_path = _dump(model, tmp_path / "model.onnx")  # names deliberately swapped
    onnx_path = tmp_path / "model.skops"
    onnx_path.write_bytes(_to_onnx(model, 2).SerializeToString())

    assert sniff_format(head=_head(skops_path)) == "skops"
    assert sniff_format(head=_head(onnx_path)) == "onnx"


# --- zip structure --------------------------------------------------------------------------


def _zip_with(tmp_path: Path, *infos: tuple[zipfile.ZipInfo, bytes]) -> Path:
    path = tmp_path / "crafted.skops"
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in infos:
            archive.writestr(info, data)
    return path


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 GiB of zeros deflated to about 4.5 MB, written in chunks so memory stays small."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.skops"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("schema.json", "w", force_zip64=True) as entry,
    ):
        chunk = bytes(1 << 20)
        for _ in range(1024):
            entry.write(chunk)
    return path


def test_zip_bomb_is_refused_by_declared_total_size(zip_bomb: Path) -> None:
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=zip_bomb, **LIMITS)
    assert caught.value.code == "zip_bomb"


def test_zip_bomb_is_refused_by_compression_ratio_even_under_the_size_limit(
    zip_bomb: Path,
) -> None:
    with pytest.raises(UnsafeArtifact, match="times") as caught:
        check_zip(path=zip_bomb, max_uncompressed_bytes=2 * 1024**3, max_entries=10)
    assert caught.value.code == "zip_bomb"


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "/etc/passwd", "..\\x", "a\\b", "C:/windows/x", "c:x"]
)
def test_entry_names_escaping_the_archive_are_refused(tmp_path: Path, name: str) -> None:
    path = _zip_with(tmp_path, (zipfile.ZipInfo(name), b"x"))
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "zip_traversal"


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("schema.json")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = _zip_with(tmp_path, (link, b"/etc/passwd"))
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "zip_symlink"


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    path = _zip_with(tmp_path, *((zipfile.ZipInfo(f"{i}.npy"), b"") for i in range(20)))
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, max_uncompressed_bytes=10**6, max_entries=10)
    assert caught.value.code == "too_many_entries"


def test_duplicate_entry_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.skops"
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(path, "w") as archive,
    ):
        archive.writestr("schema.json", b"{}")
        archive.writestr("schema.json", b"{}")
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "zip_duplicate_entry"


def test_encrypted_entry_is_refused(tmp_path: Path) -> None:
    path = _zip_with(tmp_path, (zipfile.ZipInfo("schema.json"), b"{}"))
    data = bytearray(path.read_bytes())
    # zipfile cannot write encrypted entries: set the "encrypted" flag bit in both headers.
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    path.write_bytes(bytes(data))
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "zip_encrypted"


def test_entry_with_corrupted_data_is_refused(tmp_path: Path) -> None:
    path = _zip_with(tmp_path, (zipfile.ZipInfo("schema.json"), b"A" * 100))
    data = bytearray(path.read_bytes())
    data[data.index(b"A" * 100)] = ord("B")  # CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "corrupt"


def test_not_a_zip_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "x.skops"
    path.write_bytes(b"PK\x03\x04 and then nothing")
    with pytest.raises(UnsafeArtifact) as caught:
        check_zip(path=path, **LIMITS)
    assert caught.value.code == "corrupt"


def test_real_skops_file_passes_zip_checks(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    path = _dump(_pipeline(LogisticRegression()).fit(frame, target), tmp_path / "m.skops")
    check_zip(path=path, **LIMITS)


# --- skops type policy ----------------------------------------------------------------------


@pytest.mark.parametrize("func", [os.system, eval, exec, np.load])
def test_skops_file_referencing_a_dangerous_function_is_forbidden_even_if_trusted(
    tmp_path: Path, marker: Path, func: Any
) -> None:
    path = _dump(FunctionTransformer(func=func, kw_args=None), tmp_path / "evil.skops")
    untrusted = skops_untrusted_types(path=path)

    report = classify_untrusted(untrusted=untrusted, trusted=untrusted)

    assert report.forbidden == tuple(untrusted)
    assert report.needs_trust == ()
    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=untrusted)
    assert caught.value.code == "forbidden_type"
    assert untrusted[0] in caught.value.message
    assert not marker.exists()


def test_hand_edited_schema_pointing_at_os_system_is_forbidden(
    tmp_path: Path, marker: Path
) -> None:
    """An attacker writes schema.json directly instead of dumping a real object."""
    clean = sio.dumps(FunctionTransformer(func=np.log1p))
    with zipfile.ZipFile(io.BytesIO(clean)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    schema["content"]["content"]["func"].update({"__module__": "os", "__class__": "system"})
    path = tmp_path / "edited.skops"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, json.dumps(schema) if name == "schema.json" else data)

    untrusted = skops_untrusted_types(path=path)
    assert "os.system" in untrusted
    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=["os.system"])
    assert caught.value.code == "forbidden_type"
    assert not marker.exists()


@pytest.mark.parametrize(
    "name",
    [
        "builtins.eval",
        "posix.system",
        "os.system",
        "nt.system",
        "subprocess.Popen",
        "operator.attrgetter",
        "functools.partial",
        "importlib.import_module",
        "numpy.load",
        "numpy.fromfile",
        "numpy.lib._npyio_impl.load",
        "joblib.load",
        "cloudpickle.loads",
        "dill.loads",
        "pickle.loads",
        "skops.io.load",
        "sklearn.utils.os.system",
        "sklearn.base.__builtins__",
        "__main__.Evil",
        "eval",
        "",
        "os.system; rm -rf /",
        "numpy..load",
    ],
)
def test_dangerous_or_malformed_names_are_forbidden(name: str) -> None:
    assert is_forbidden_type(name)


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.tree._tree.Tree",
        "numpy.dtype",
        "numpy.loadtxt_helper_that_does_not_exist_but_is_not_numpy_loadtxt",
        "sklearn.neighbors._kd_tree.KDTree",
        "scipy.signal.windows.hann",
        "numpy.trace",
    ],
)
def test_ordinary_names_are_not_forbidden(name: str) -> None:
    assert not is_forbidden_type(name)


def test_default_trusted_types_are_enumerated_and_never_forbidden() -> None:
    assert DEFAULT_TRUSTED_TYPES
    for name in DEFAULT_TRUSTED_TYPES:
        assert not is_forbidden_type(name)
        assert "*" not in name and not name.endswith(".")


def test_classify_untrusted_sorts_and_drops_trusted_names() -> None:
    report = classify_untrusted(
        untrusted=["z.Custom", "builtins.eval", "sklearn.tree._tree.Tree", "a.Custom"],
        trusted=["z.Custom"],
    )
    assert report.forbidden == ("builtins.eval",)
    assert report.needs_trust == ("a.Custom",)


def _assert_roundtrip(model: Any, frame: pd.DataFrame, tmp_path: Path) -> None:
    path = _dump(model, tmp_path / "model.skops")
    check_zip(path=path, **LIMITS)
    report = classify_untrusted(untrusted=skops_untrusted_types(path=path), trusted=())
    assert report.forbidden == () and report.needs_trust == ()

    loaded = load_skops(path=path, trusted=())

    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


@pytest.mark.parametrize(
    "model",
    [RandomForestClassifier(n_estimators=5, random_state=0), LogisticRegression()],
    ids=["forest", "logistic"],
)
def test_pipeline_with_column_transformer_loads_with_default_trust_and_predicts_identically(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray], model: Any
) -> None:
    frame, target = tabular
    _assert_roundtrip(_pipeline(model).fit(frame, target), frame, tmp_path)


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=5, random_state=0),
        HistGradientBoostingClassifier(max_iter=5, random_state=0),
    ],
    ids=["forest", "hist_gradient_boosting"],
)
def test_tree_ensembles_load_with_default_trust_and_predict_identically(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray], model: Any
) -> None:
    frame, target = tabular
    numeric = frame[["age", "income"]]
    _assert_roundtrip(model.fit(numeric, target), numeric, tmp_path)


def test_unreviewed_type_needs_explicit_trust(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    numeric = frame[["age", "income"]]
    path = _dump(KNeighborsClassifier(algorithm="kd_tree").fit(numeric, target), tmp_path / "k")
    untrusted = skops_untrusted_types(path=path)
    report = classify_untrusted(untrusted=untrusted, trusted=())
    assert "sklearn.neighbors._kd_tree.KDTree" in report.needs_trust

    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=())
    assert caught.value.code == "untrusted_type"
    assert len(load_skops(path=path, trusted=report.needs_trust).predict(numeric)) == len(numeric)


def test_tree_with_out_of_range_child_is_refused_before_predict(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    numeric = frame[["age", "income"]]
    model = DecisionTreeClassifier(max_depth=3).fit(numeric, target)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**9  # predict would read far outside the node array
    forged = Tree(model.n_features_in_, np.array([model.n_classes_], dtype=np.intp), 1)
    forged.__setstate__({**state, "nodes": nodes})  # sklearn accepts it as is
    model.tree_ = forged
    path = _dump(model, tmp_path / "forged.skops")

    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=())
    assert caught.value.code == "invalid_tree"


def test_tree_with_cycle_is_refused(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    numeric = frame[["age", "income"]]
    model = DecisionTreeClassifier(max_depth=3).fit(numeric, target)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["right_child"][0] = 0  # root points at itself: predict would never end
    forged = Tree(model.n_features_in_, np.array([model.n_classes_], dtype=np.intp), 1)
    forged.__setstate__({**state, "nodes": nodes})
    model.tree_ = forged
    path = _dump(model, tmp_path / "cycle.skops")

    with pytest.raises(UnsafeArtifact, match="malformed"):
        load_skops(path=path, trusted=())


def test_hist_gradient_boosting_split_on_missing_feature_is_refused(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    numeric = frame[["age", "income"]]
    model = HistGradientBoostingClassifier(max_iter=3).fit(numeric, target)
    model._predictors[0][0].nodes["feature_idx"][0] = 999
    path = _dump(model, tmp_path / "forged.skops")

    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=())
    assert caught.value.code == "invalid_tree"


# --- ONNX -----------------------------------------------------------------------------------


def _to_onnx(model: Any, n_features: int) -> onnx.ModelProto:
    from skl2onnx import to_onnx

    return to_onnx(model, np.zeros((1, n_features), dtype=np.float32), options={"zipmap": False})


def _tiny_graph(*, node: onnx.NodeProto, initializer: list[onnx.TensorProto]) -> onnx.GraphProto:
    return helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
        initializer=initializer,
    )


def _external(name: str) -> onnx.TensorProto:
    tensor = helper.make_tensor(name, TensorProto.FLOAT, [2], b"\x00" * 8, raw=True)
    set_external_data(tensor, location="../../etc/passwd", offset=0, length=8)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    return tensor


def _write(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def test_onnx_with_external_data_initializer_is_refused(tmp_path: Path) -> None:
    graph = _tiny_graph(
        node=helper.make_node("Add", ["X", "W"], ["Y"]), initializer=[_external("W")]
    )
    path = _write(helper.make_model(graph), tmp_path / "m.onnx")
    with pytest.raises(UnsafeArtifact) as caught:
        check_onnx(path=path)
    assert caught.value.code == "onnx_external_data"
    with pytest.raises(UnsafeArtifact):
        load_onnx(path=path)


def test_onnx_with_external_data_inside_a_subgraph_is_refused(tmp_path: Path) -> None:
    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["W"], ["out"])],
        "then",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2])],
        initializer=[_external("W")],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["out"], value=helper.make_tensor("c", 1, [2], [0, 0]))],
        "else",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2])],
    )
    node = helper.make_node("If", ["C"], ["Y"], then_branch=then_graph, else_branch=else_graph)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("C", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])],
    )
    path = _write(helper.make_model(graph), tmp_path / "m.onnx")
    with pytest.raises(UnsafeArtifact) as caught:
        check_onnx(path=path)
    assert caught.value.code == "onnx_external_data"


def test_onnx_with_custom_domain_node_is_refused(tmp_path: Path) -> None:
    graph = _tiny_graph(
        node=helper.make_node("Evil", ["X"], ["Y"], domain="com.evil"), initializer=[]
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)]
    )
    path = _write(model, tmp_path / "m.onnx")
    with pytest.raises(UnsafeArtifact) as caught:
        check_onnx(path=path)
    assert caught.value.code == "onnx_custom_op"
    assert "com.evil" in caught.value.message
    with pytest.raises(UnsafeArtifact):
        load_onnx(path=path)


def test_onnx_with_custom_domain_function_is_refused(tmp_path: Path) -> None:
    function = helper.make_function(
        "com.evil",
        "Twice",
        ["x"],
        ["y"],
        [helper.make_node("Add", ["x", "x"], ["y"])],
        [helper.make_opsetid("", 17)],
    )
    graph = _tiny_graph(
        node=helper.make_node("Twice", ["X"], ["Y"], domain="com.evil"), initializer=[]
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)],
        functions=[function],
    )
    with pytest.raises(UnsafeArtifact) as caught:
        check_onnx(path=_write(model, tmp_path / "m.onnx"))
    assert caught.value.code == "onnx_custom_op"


def test_garbage_onnx_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0f")
    with pytest.raises(UnsafeArtifact) as caught:
        check_onnx(path=path)
    assert caught.value.code == "corrupt"


def test_converted_sklearn_model_is_described_and_runs_on_cpu(
    tmp_path: Path, tabular: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, target = tabular
    features = frame[["age", "income"]].to_numpy(np.float32)
    model = LogisticRegression().fit(features, target)
    path = _write(_to_onnx(model, 2), tmp_path / "m.onnx")

    info = check_onnx(path=path)
    session = load_onnx(path=path)

    assert info.input_names == ("X",)
    assert info.inputs[0].type == "FLOAT" and info.inputs[0].shape == (None, 2)
    assert "label" in info.output_names and info.opset["ai.onnx"] >= 1
    assert session.get_providers() == ["CPUExecutionProvider"]
    labels = session.run(["label"], {"X": features})[0]
    np.testing.assert_array_equal(labels, model.predict(features))


# --- describe_estimator ---------------------------------------------------------------------


def test_describe_estimator_is_json_safe_and_lists_pipeline_steps(
    tabular: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame, target = tabular
    model = _pipeline(RandomForestClassifier(n_estimators=np.int64(3), random_state=0))
    model.fit(frame, target)

    description = describe_estimator(model)

    json.dumps(description)
    assert description["class"] == "sklearn.pipeline.Pipeline"
    assert description["steps"] == [
        {"name": "pre", "class": "sklearn.compose._column_transformer.ColumnTransformer"},
        {"name": "model", "class": "sklearn.ensemble._forest.RandomForestClassifier"},
    ]
    forest = describe_estimator(model.named_steps["model"])
    assert forest["params"]["n_estimators"] == 3
    assert isinstance(forest["params"]["n_estimators"], int)


def test_describe_estimator_truncates_unknown_values() -> None:
    description = describe_estimator(FunctionTransformer(func=np.log1p, kw_args={"x": "y" * 500}))
    json.dumps(description)
    assert description["params"]["func"].startswith("<ufunc")
    assert len(description["params"]["kw_args"]["x"]) == 500  # strings are data, kept whole
    long = describe_estimator(FunctionTransformer(kw_args={"x": object()}))
    assert len(long["params"]["kw_args"]["x"]) <= 200
