"""Storing uploads under server-chosen, content-addressed names through Django's storage API
(local files or S3), and getting a local copy back for the worker."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    name: str
    sha256: str
    size: int
    created: bool  # False when identical bytes were already stored (another version's file)


def sha256_of(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def store_content_addressed(*, path: str | Path, kind: str, extension: str) -> StoredFile:
    """Save the file at ``path`` as ``<kind>/<aa>/<sha256>.<extension>``; the client's file name
    never reaches the storage, so it cannot traverse, collide or overwrite."""
    sha, size = sha256_of(path)
    name = f"{kind}/{sha[:2]}/{sha}.{extension}"
    if default_storage.exists(name):
        return StoredFile(name=name, sha256=sha, size=size, created=False)
    with open(path, "rb") as fh:
        saved = default_storage.save(name, File(fh, name=name))
    return StoredFile(name=saved, sha256=sha, size=size, created=True)


def store_bytes_content_addressed(*, data: bytes, kind: str, extension: str) -> StoredFile:
    """`store_content_addressed` for bytes produced in memory (a compiled model)."""
    with tempfile.NamedTemporaryFile(suffix=f".{extension}") as tmp:
        tmp.write(data)
        tmp.flush()
        return store_content_addressed(path=tmp.name, kind=kind, extension=extension)


def discard(stored: StoredFile | None) -> None:
    """Undo a store after a refused or failed upload, unless the bytes belong to others too."""
    if stored is not None and stored.created:
        default_storage.delete(stored.name)


@contextmanager
def local_copy(name: str, *, suffix: str = "") -> Iterator[Path]:
    """A local path holding the stored file: the file itself on local storage, else a temp copy."""
    try:
        local: str | None = default_storage.path(name)
    except NotImplementedError:  # remote storage has no local path
        local = None
    if local is not None:
        yield Path(local)
        return
    with default_storage.open(name, "rb") as src, tempfile.NamedTemporaryFile(suffix=suffix) as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
        dst.flush()
        yield Path(dst.name)


def stored_sha256(name: str) -> str | None:
    """The sha256 of the stored file, read through the storage API in chunks (never whole into
    memory); None when the file is gone."""
    digest = hashlib.sha256()
    try:
        with default_storage.open(name, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except (FileNotFoundError, OSError):
        return None
    return digest.hexdigest()
