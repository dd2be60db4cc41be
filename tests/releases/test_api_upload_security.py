"""Attacks on POST /api/v1/models/{name}/versions/, performed through the real API.

Every refused upload must answer the right 4xx with a `detail` that says what to fix, and leave
no version row, no evaluation set row and no file under MEDIA_ROOT.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from releases.models import AuditEvent, EvaluationDataset, ModelVersion
from tests.releases import attack_files as af
from tests.releases import model_files as mf

URL = "/api/v1/models/credit-risk/versions/"


upload = mf.upload


files_under = mf.files_under


def assert_refused_and_nothing_kept(response: Any, status: int, code: str, media: Path) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and len(body["detail"]) > 20, body
    assert not ModelVersion.objects.exists()
    assert not EvaluationDataset.objects.exists()
    assert not AuditEvent.objects.filter(action="version.upload").exists()
    assert files_under(media) == []
    return body


@pytest.fixture
def client(api: Any, owner: Any, risk_model: Any, media_root: Path) -> Any:
    return api(owner)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


# --- pickles and joblib: refused by content, never opened ----------------------------------


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pickle_with_reduce_payload_is_refused_and_never_runs(
    client: Any, media_root: Path, marker: Path, protocol: int
) -> None:
    payload = mf.pickle_reduce_payload(marker, protocol=protocol)

    response = upload(client, payload, "model.pkl", notes="innocent")

    body = assert_refused_and_nothing_kept(response, 415, "pickle_refused", media_root)
    assert "skops" in body["detail"] and body["field"] == "artifact"
    # The marker is the proof: had anything in this process unpickled the bytes, it would exist.
    assert not marker.exists()


def test_pickle_named_model_skops_is_refused_because_the_name_does_not_matter(
    client: Any, media_root: Path, marker: Path
) -> None:
    response = upload(client, mf.pickle_reduce_payload(marker), "model.skops")

    assert_refused_and_nothing_kept(response, 415, "pickle_refused", media_root)
    assert not marker.exists()


def test_pickle_payload_sent_as_evaluation_data_is_never_opened(
    client: Any, media_root: Path, marker: Path
) -> None:
    response = upload(
        client,
        mf.skops_pipeline_bytes(),
        evaluation_data=mf.pickle_reduce_payload(marker),
        target=mf.TARGET,
    )

    body = assert_refused_and_nothing_kept(response, 400, "invalid_evaluation_data", media_root)
    assert body["field"] == "evaluation_data"
    assert not marker.exists()


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_joblib_dump_is_refused_plain_or_compressed(
    client: Any, media_root: Path, compress: Any
) -> None:
    response = upload(client, mf.joblib_dump_bytes(compress=compress), "model.joblib")

    body = assert_refused_and_nothing_kept(response, 415, "pickle_refused", media_root)
    assert "skops.io" in body["detail"]


# --- skops files naming code ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("artifact", "forbidden"),
    [
        (lambda: mf.skops_function_transformer_bytes(eval), "builtins.eval"),
        (lambda: mf.skops_function_transformer_bytes(os.system), f"{os.system.__module__}.system"),
        (lambda: mf.skops_schema_pointing_at("os", "system"), "os.system"),
        (lambda: mf.skops_schema_pointing_at("posix", "system"), "posix.system"),
        (lambda: mf.skops_schema_pointing_at("subprocess", "Popen"), "subprocess.Popen"),
    ],
    ids=["eval", "dumped-os-system", "edited-os-system", "edited-posix-system", "edited-popen"],
)
def test_skops_file_naming_a_dangerous_function_is_refused_with_the_names_listed(
    client: Any, media_root: Path, artifact: Any, forbidden: str
) -> None:
    response = upload(client, artifact())

    body = assert_refused_and_nothing_kept(response, 422, "forbidden_type", media_root)
    assert body["forbidden_types"] == [forbidden]
    assert forbidden in body["detail"]


# --- zip archives -----------------------------------------------------------------------------


def test_zip_bomb_over_the_uncompressed_limit_is_refused(
    client: Any, media_root: Path, settings: Any
) -> None:
    settings.MODELGATE_MAX_UNCOMPRESSED_BYTES = 1 << 20
    bomb = mf.zip_bomb_bytes(expanded_bytes=8 << 20)
    assert len(bomb) < 64 * 1024

    response = upload(client, bomb)

    body = assert_refused_and_nothing_kept(response, 422, "zip_bomb", media_root)
    assert "1,048,576 bytes" in body["detail"]


def test_zip_whose_headers_understate_the_expanded_size_is_refused(
    client: Any, media_root: Path, settings: Any
) -> None:
    settings.MODELGATE_MAX_UNCOMPRESSED_BYTES = 1 << 20
    response = upload(client, mf.zip_lying_about_size_bytes(expanded_bytes=8 << 20))

    assert_refused_and_nothing_kept(response, 422, "corrupt", media_root)


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "models/../../evil"])
def test_zip_entry_with_traversal_name_is_refused(client: Any, media_root: Path, name: str) -> None:
    response = upload(client, mf.zip_with_entry(name))

    body = assert_refused_and_nothing_kept(response, 422, "zip_traversal", media_root)
    assert name in body["detail"]
    assert not (media_root.parent / "evil").exists()


def test_zip_symlink_entry_is_refused(client: Any, media_root: Path) -> None:
    response = upload(client, mf.zip_with_symlink())

    body = assert_refused_and_nothing_kept(response, 422, "zip_symlink", media_root)
    assert "symbolic link" in body["detail"]


@pytest.mark.parametrize(
    "schema",
    [b"[]", b'{"content": 5, "__class__": 1}', b"not json", b"[" * 100_000 + b"]" * 100_000],
    ids=["list", "wrong-shapes", "not-json", "nested-past-recursion-limit"],
)
def test_skops_file_with_a_malformed_schema_is_refused_not_a_server_error(
    client: Any, media_root: Path, schema: bytes
) -> None:
    response = upload(client, mf.zip_bytes({"schema.json": schema}))

    body = assert_refused_and_nothing_kept(response, 422, "corrupt", media_root)
    assert "skops.io.dump" in body["detail"]


# --- size and format --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [100 * 1024, 300 * 1024], ids=["streamed", "declared"])
def test_file_over_the_upload_limit_is_refused_with_the_limit_named(
    client: Any, media_root: Path, settings: Any, size: int
) -> None:
    """100 KiB passes the declared-length check and is stopped while streaming; 300 KiB is
    refused from Content-Length before the body is read."""
    settings.MODELGATE_MAX_UPLOAD_BYTES = 64 * 1024

    response = upload(client, mf.random_bytes(size))

    body = assert_refused_and_nothing_kept(response, 413, "too_large", media_root)
    assert "64.0 KB limit" in body["detail"], body


@pytest.mark.parametrize(
    "artifact",
    [lambda: mf.random_bytes(), lambda: mf.evaluation_csv_bytes(), lambda: b""],
    ids=["random", "csv", "empty"],
)
def test_unrecognised_artifact_is_refused_as_unknown_format(
    client: Any, media_root: Path, artifact: Any
) -> None:
    response = upload(client, artifact(), "model.skops")

    body = response.json()
    if response.status_code == 400:  # an empty file never reaches the content checks
        assert body["fields"]["artifact"], body
        assert not ModelVersion.objects.exists() and files_under(media_root) == []
        return
    assert_refused_and_nothing_kept(response, 415, "unknown_format", media_root)
    assert "skops" in body["detail"] and "ONNX" in body["detail"]


# --- evaluation data --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "phrase"),
    [
        (
            {"evaluation_data": mf.evaluation_csv_bytes(), "target": "defaulted"},
            "evaluation_data",
            "no target column 'defaulted'",
        ),
        (
            {"evaluation_data": b"\x00\x01\x02binary\x00", "target": mf.TARGET},
            "evaluation_data",
            "not a CSV",
        ),
        (
            {"evaluation_data": b"\xff\xfe\xfa not utf-8", "target": mf.TARGET},
            "evaluation_data",
            "UTF-8",
        ),
        ({"evaluation_data": mf.evaluation_csv_bytes()}, "target", "target"),
        ({"target": mf.TARGET}, "evaluation_data", "evaluation CSV"),
    ],
    ids=["missing-target-column", "binary", "not-utf8", "file-without-target", "target-no-file"],
)
def test_evaluation_csv_problems_are_400_with_field_and_sentence(
    client: Any, media_root: Path, fields: dict[str, Any], field: str, phrase: str
) -> None:
    response = upload(client, mf.skops_pipeline_bytes(), **fields)

    body = response.json()
    assert response.status_code == 400, body
    assert body["field"] == field, body
    assert phrase in body["detail"], body
    assert not ModelVersion.objects.exists()
    assert not EvaluationDataset.objects.exists()
    assert files_under(media_root) == []


# --- storage names ----------------------------------------------------------------------------


def test_client_filename_is_never_used_for_storage(client: Any, media_root: Path) -> None:
    content = mf.skops_pipeline_bytes()
    sha = hashlib.sha256(content).hexdigest()

    response = upload(client, content, "../../etc/passwd.skops")

    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get()
    assert version.artifact.name == f"artifacts/{sha[:2]}/{sha}.skops"
    assert files_under(media_root) == [f"artifacts/{sha[:2]}/{sha}.skops"]
    stored = media_root / version.artifact.name
    assert stored.resolve().is_relative_to(media_root.resolve())
    assert stored.read_bytes() == content
    assert not (media_root.parent.parent / "etc" / "passwd.skops").exists()
    assert "passwd" not in response.content.decode()


# --- issue 8: resource exhaustion in the web process -----------------------------------------


def test_exponential_schema_upload_answers_quickly_with_a_clear_refusal(
    client: Any, media_root: Path
) -> None:
    attack = af.exponential_schema_bytes(levels=60)  # hours of skops' audit
    started = time.perf_counter()

    response = upload(client, attack)

    assert time.perf_counter() - started < 2.0
    body = assert_refused_and_nothing_kept(response, 422, "schema_too_complex", media_root)
    assert "skops.io.dump" in body["detail"]


def test_highly_compressible_schema_is_refused_as_too_large_before_it_is_read(
    client: Any, media_root: Path, settings: Any
) -> None:
    settings.MODELGATE_MAX_SCHEMA_BYTES = 1024**2
    attack = af.compressible_schema_bytes(size=64 * 1024**2)
    assert len(attack) < 128 * 1024

    response = upload(client, attack)

    body = assert_refused_and_nothing_kept(response, 413, "schema_too_large", media_root)
    assert "1,048,576" in body["detail"] and "MODELGATE_MAX_SCHEMA_BYTES" in body["detail"]


def test_one_array_entry_referenced_by_thousands_of_nodes_is_refused(
    client: Any, media_root: Path
) -> None:
    response = upload(client, af.shared_array_file_bytes(nodes=3000))

    assert_refused_and_nothing_kept(response, 422, "shared_array_file", media_root)


@pytest.mark.parametrize("bits", [0x20, 0x40], ids=["patched-data", "strong-encryption"])
def test_zip_with_unsupported_flag_bits_is_a_4xx_not_a_server_error(
    client: Any, media_root: Path, bits: int
) -> None:
    response = upload(client, af.zip_with_flag_bits(bits))

    assert_refused_and_nothing_kept(response, 422, "corrupt", media_root)


def test_file_whose_root_is_a_plain_list_is_refused_saying_it_is_not_a_model(
    client: Any, media_root: Path
) -> None:
    response = upload(client, af.list_root_bytes())

    body = assert_refused_and_nothing_kept(response, 422, "not_an_estimator", media_root)
    assert "builtins.list" in body["detail"] and "not a model" in body["detail"]


def test_onnx_importing_a_custom_operator_domain_is_refused_without_parsing_the_graph(
    client: Any, media_root: Path
) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Evil", ["X"], ["Y"], domain="com.evil")],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)]
    )

    response = upload(client, model.SerializeToString(), "model.onnx")

    body = assert_refused_and_nothing_kept(response, 422, "onnx_custom_op", media_root)
    assert "com.evil" in body["detail"]


@pytest.mark.django_db(transaction=True)
def test_health_probe_answers_while_attack_uploads_run(
    live_server: Any, owner: Any, risk_model: Any, media_root: Path, settings: Any
) -> None:
    from releases.models import ApiToken

    settings.MODELGATE_MAX_SCHEMA_BYTES = 1024**2
    _, key = ApiToken.objects.create(user=owner)
    attacks = [
        af.exponential_schema_bytes(levels=60),
        af.shared_array_file_bytes(nodes=3000),
        af.compressible_schema_bytes(size=64 * 1024**2),
    ] * 2

    address = urllib.parse.urlsplit(live_server.url)

    def request(method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, float]:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            status = connection.getresponse().status
        finally:
            connection.close()
        return status, time.perf_counter() - started

    def attack(data: bytes) -> tuple[int, float]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="artifact"; '
                'filename="model.skops"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return request(
            "POST", URL, body, Authorization=f"Token {key}",
            **{"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )  # fmt: skip

    def probe() -> tuple[int, float]:
        return request("GET", "/healthz")

    with ThreadPoolExecutor(max_workers=len(attacks)) as pool:
        running = [pool.submit(attack, data) for data in attacks]
        probes = []
        while not all(f.done() for f in running) or len(probes) < 3:
            probes.append(probe())
        results = [f.result() for f in running]

    assert all(status == 200 and seconds < 1.0 for status, seconds in probes), probes
    assert all(status in {413, 422} and seconds < 10 for status, seconds in results), results
    assert not ModelVersion.objects.exists()


def test_upload_lists_untrusted_types_without_running_skops_in_the_web_process(
    client: Any, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import skops.io
    import skops.io._audit

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("skops parsed an uploaded schema in the web process")

    monkeypatch.setattr(skops.io, "get_untrusted_types", refuse)
    monkeypatch.setattr(skops.io._audit, "get_tree", refuse)

    response = upload(client, mf.skops_knn_bytes())

    assert response.status_code == 201, response.json()
    assert response.json()["untrusted_types"] == mf.KNN_UNTRUSTED_TYPES
