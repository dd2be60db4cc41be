"""Loading a version's model into this process, for serving and explanations.

Validation ran the model in the sandbox; a process that serves it loads it again, and trusts
nothing it did not check itself: the bytes must hash to the version's sha256 (read once, so the
bytes hashed are the bytes loaded), and the same type, parameter and fitted-structure policies
run again, with the same trusted types. Loaded models are cached per process by sha256, so a
model is deserialized once per worker, whichever version, stage or caller asks for it.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from releases.errors import Conflict
from releases.models import ModelVersion

_CHUNK = 1 << 20


class ArtifactChanged(Conflict):
    """The stored file no longer hashes to the version's sha256: never load or serve it."""

    code = "artifact_changed"


class ModelUnloadable(Conflict):
    """The stored model fails a policy it passed at upload (the policy got stricter since)."""

    code = "model_unloadable"


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to call: a scikit-learn estimator, or an ONNX Runtime session."""

    sha256: str
    format: str
    model: Any = field(repr=False)


def _cache_size() -> int:
    return int(getattr(settings, "MODELGATE_LOADED_MODELS_MAX", 8))


_cache: OrderedDict[tuple[str, frozenset[str]], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()
# One lock per key, so two threads asking for the same cold model load it once, while other
# models stay available.
_key_locks: dict[tuple[str, frozenset[str]], threading.Lock] = {}


def load_version_model(model_version: ModelVersion) -> LoadedModel:
    """The version's model, loaded under the policies with its trusted types, from this
    process's cache when it is there. Raises `ArtifactChanged` or `ModelUnloadable` (409)."""
    from releases.services.inputs import trusted_type_allowlist

    trusted = frozenset(trusted_type_allowlist() | set(model_version.trusted_types))
    key = (model_version.sha256, trusted)
    return _cached(key, lambda: _load(model_version, trusted))


def _cached(key: tuple[str, frozenset[str]], load: Callable[[], LoadedModel]) -> LoadedModel:
    """The cached model for ``key``, else ``load()``'s, kept (least recently used goes first)."""
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit
        loaded = load()
        with _cache_lock:
            _cache[key] = loaded
            while len(_cache) > _cache_size():
                evicted, _ = _cache.popitem(last=False)
                _key_locks.pop(evicted, None)
        return loaded


def load_serving_model(model_version: ModelVersion) -> LoadedModel:
    """What serves the version: its compiled ONNX form (an onnxruntime session fed with
    `releases.compiled.onnx_feed`, outputs ``label``/``probabilities`` or ``variable``) when
    validation proved it reproduces scikit-learn, else `load_version_model`'s estimator.

    The ONNX bytes must hash to ``onnx_sha256`` (else `ArtifactChanged`) and pass the same ONNX
    checks as an uploaded ONNX file; sessions are cached per sha256 like estimators.
    """
    from releases.models import ServingRuntime

    if model_version.serving_runtime != ServingRuntime.ONNX or not model_version.onnx_sha256:
        return load_version_model(model_version)
    key = (model_version.onnx_sha256, frozenset({"onnx-serving"}))
    return _cached(key, lambda: _load_compiled(model_version))


def _load_compiled(model_version: ModelVersion) -> LoadedModel:
    from releases.artifact_safety import UnsafeArtifact, load_onnx

    data = _read_verified(
        model_version,
        name=str(model_version.onnx_artifact.name),
        sha256=model_version.onnx_sha256,
        what="compiled ONNX form",
    )
    with tempfile.TemporaryDirectory(prefix="modelgate-load-") as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(data)
        try:
            # One thread per session.run: the server's workers and threads are the parallelism.
            session = load_onnx(
                path=path,
                intra_op_threads=settings.MODELGATE_ONNX_THREADS,
            )
        except UnsafeArtifact as exc:
            raise ModelUnloadable(
                f"The compiled form of version {model_version.version} cannot be loaded: "
                f"{exc.message}",
                detail={"reason": exc.code},
            ) from exc
    return LoadedModel(sha256=model_version.onnx_sha256, format="onnx", model=session)


def clear_cache() -> None:
    """Forget every loaded model (tests; a process that must drop memory)."""
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()


def _load(model_version: ModelVersion, trusted: frozenset[str]) -> LoadedModel:
    from releases.artifact_safety import UnsafeArtifact, load_onnx, load_skops

    data = _read_verified(
        model_version,
        name=str(model_version.artifact.name),
        sha256=model_version.sha256,
        what="stored file",
    )
    with tempfile.TemporaryDirectory(prefix="modelgate-load-") as tmp:
        path = Path(tmp) / f"model.{model_version.format}"
        path.write_bytes(data)
        try:
            if model_version.format == "onnx":
                # Served like a compiled form: the server's processes are the parallelism.
                model: Any = load_onnx(path=path, intra_op_threads=settings.MODELGATE_ONNX_THREADS)
            else:
                model = load_skops(
                    path=path,
                    trusted=trusted,
                    max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
                    max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
                    max_schema_bytes=settings.MODELGATE_MAX_SCHEMA_BYTES,
                )
        except UnsafeArtifact as exc:
            raise ModelUnloadable(
                f"Version {model_version.version} cannot be loaded: {exc.message}",
                detail={"reason": exc.code},
            ) from exc
    return LoadedModel(sha256=model_version.sha256, format=model_version.format, model=model)


def _read_verified(model_version: ModelVersion, *, name: str, sha256: str, what: str) -> bytes:
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    try:
        with default_storage.open(name, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                chunks.append(chunk)
    except OSError:
        raise ArtifactChanged(
            f"The {what} of version {model_version.version} is missing; it cannot be "
            "loaded. Upload the model again as a new version."
        ) from None
    if digest.hexdigest() != sha256:
        raise ArtifactChanged(
            f"The {what} of version {model_version.version} no longer matches the sha256 "
            "it was uploaded and reviewed with, so ModelGate will not load it. Restore the file "
            "or upload the model again as a new version."
        )
    return b"".join(chunks)
