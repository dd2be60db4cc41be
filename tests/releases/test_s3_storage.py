"""Artifacts on S3-compatible object storage (django-storages), against moto's S3 server."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from releases.models import ModelVersion, VersionStatus
from releases.tasks import validate_model_version
from tests.factories import RegisteredModelFactory, TeamFactory

BUCKET = "modelgate-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("moto S3 server did not start")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3(settings, s3_endpoint):
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "location": "modelgate",
                "default_acl": None,
                "file_overwrite": True,
            },
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])


def _keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _skops_model() -> bytes:
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(50, 3))
    return sio.dumps(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))


@pytest.mark.django_db
def test_upload_validate_and_download_through_s3(s3, api, owner):
    RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    artifact = _skops_model()
    sha = hashlib.sha256(artifact).hexdigest()
    response = api(owner).post(
        "/api/v1/models/credit-risk/versions/",
        {"artifact": SimpleUploadedFile("../../m.skops", artifact)},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert _keys(s3) == [f"modelgate/artifacts/{sha[:2]}/{sha}.skops"]

    # The worker's code path: fetch from the bucket into a temp file, load, validate.
    version = ModelVersion.objects.get(sha256=sha)
    assert validate_model_version.run(version_id=version.pk) == "validated"
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATED

    download = api(owner).get("/api/v1/models/credit-risk/versions/1/artifact")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == artifact


@pytest.mark.django_db
def test_refused_upload_leaves_nothing_in_the_bucket(s3, api, owner):
    RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    response = api(owner).post(
        "/api/v1/models/credit-risk/versions/",
        {
            "artifact": SimpleUploadedFile("m.skops", _skops_model()),
            "evaluation_data": SimpleUploadedFile("eval.csv", b"a,b\n1,2\n"),
            "target": "label",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "no target column 'label'" in response.json()["detail"]
    assert _keys(s3) == []
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_failure_after_storing_removes_the_stored_object(s3, owner, monkeypatch):
    from django.core.files.base import ContentFile

    from releases import services
    from releases.services import registry

    model = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))

    def database_down(**kwargs):
        raise RuntimeError("database went away mid-upload")

    monkeypatch.setattr(registry, "audit_record", database_down)
    with pytest.raises(RuntimeError, match="went away"):
        services.model_version_upload(
            actor=owner,
            registered_model=model,
            artifact=ContentFile(_skops_model(), name="m.skops"),
        )
    assert _keys(s3) == []
    assert not ModelVersion.objects.exists()
