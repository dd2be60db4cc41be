"""The in-process loader serving and explanations share: verified bytes, policies re-applied,
one load per sha256 per process."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from releases.loading import ArtifactChanged, ModelUnloadable, clear_cache, load_version_model
from releases.models import ModelVersion
from tests.factories import ModelVersionFactory
from tests.releases import attack_files as af
from tests.releases import model_files as mf

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(media_root: Path) -> Any:
    clear_cache()
    yield
    clear_cache()


def stored(model: Any, data: bytes, number: int = 1, **fields: Any) -> ModelVersion:
    digest = hashlib.sha256(data).hexdigest()
    name = default_storage.save(f"artifacts/{digest[:2]}/{digest}.skops", ContentFile(data))
    return ModelVersionFactory(
        registered_model=model, version=number, artifact=name, sha256=digest, size=len(data),
        **fields,
    )  # fmt: skip


def test_a_version_loads_and_predicts_like_the_model_it_was_made_from(risk_model: Any) -> None:
    frame, _ = mf.tabular()
    version = stored(risk_model, mf.skops_pipeline_bytes())

    loaded = load_version_model(version)

    assert loaded.sha256 == version.sha256
    assert (loaded.model.predict(frame) == mf.pipeline_model().predict(frame)).all()


def test_the_same_bytes_are_loaded_once_per_process_whoever_asks(risk_model: Any) -> None:
    data = mf.skops_logistic_bytes()
    first = stored(risk_model, data, 1)
    second = ModelVersionFactory(
        registered_model=risk_model, version=2, artifact=first.artifact.name, sha256=first.sha256
    )
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda v=v: results.append(load_version_model(v).model))
        for v in (first, second, first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(model) for model in results}) == 1


def test_a_tampered_stored_file_is_never_loaded(risk_model: Any) -> None:
    version = stored(risk_model, mf.skops_logistic_bytes())
    with open(default_storage.path(version.artifact.name), "wb") as fh:
        fh.write(mf.skops_logistic_bytes(c=0.5))  # a valid model, just not the reviewed one

    with pytest.raises(ArtifactChanged, match="no longer matches the sha256"):
        load_version_model(version)


def test_a_missing_stored_file_is_refused_without_a_path_in_the_message(risk_model: Any) -> None:
    version = stored(risk_model, mf.skops_logistic_bytes())
    default_storage.delete(version.artifact.name)

    with pytest.raises(ArtifactChanged) as refused:
        load_version_model(version)
    assert "/" not in refused.value.message.replace("sha256", "")


def test_the_parameter_policy_runs_again_when_a_version_is_loaded(risk_model: Any) -> None:
    # A row that claims validation passed cannot smuggle a file-reading vectorizer into a
    # serving process: the loader checks the parameters itself.
    version = stored(risk_model, af.vectorizer_reading_files_bytes(), status="approved")

    with pytest.raises(ModelUnloadable) as refused:
        load_version_model(version)
    assert refused.value.detail == {"reason": "unsafe_parameter"}
    assert "input='filename'" in refused.value.message


def test_types_trusted_for_another_version_do_not_help_this_one(risk_model: Any) -> None:
    data = mf.skops_knn_bytes()
    trusted = stored(risk_model, data, 1, trusted_types=mf.KNN_UNTRUSTED_TYPES)
    untrusted = ModelVersionFactory(
        registered_model=risk_model,
        version=2,
        artifact=trusted.artifact.name,
        sha256=trusted.sha256,
    )

    assert load_version_model(trusted).model is not None
    with pytest.raises(ModelUnloadable) as refused:
        load_version_model(untrusted)
    assert refused.value.detail == {"reason": "untrusted_type"}
