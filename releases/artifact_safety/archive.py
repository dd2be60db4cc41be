"""Checks on a zip archive (a skops file) made before anything parses its contents."""

from __future__ import annotations

import logging
import lzma
import os
import re
import stat
import zipfile
import zlib
from typing import IO

from releases.artifact_safety.errors import UnsafeArtifact

# Entries smaller than this cannot be a meaningful bomb on their own (the total is bounded
# separately), and tiny repetitive JSON legitimately compresses well.
_RATIO_MIN_BYTES = 1 << 20
_CHUNK = 1 << 20
_ALLOWED_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_DRIVE = re.compile(r"^[A-Za-z]:")
# General-purpose flag bits zipfile cannot read (patched data, strong encryption) or that a
# model file never needs; 0x1 (encrypted) has its own message.
_UNSUPPORTED_FLAGS = 0x20 | 0x40 | 0x2000
logger = logging.getLogger(__name__)


def check_zip(
    *,
    path: str | os.PathLike[str],
    max_uncompressed_bytes: int,
    max_entries: int,
    max_ratio: float = 200.0,
) -> None:
    """Refuse a zip that is a bomb, escapes its directory, or hides anything unusual.

    Reads the central directory with `zipfile` (which parses nothing inside the entries), then
    streams every entry once, counting bytes, so a size lie or CRC mismatch is caught here and
    not in a parser. Raises `UnsafeArtifact`; returns None when the archive is acceptable.
    """
    check_zip_source(
        source=path,
        max_uncompressed_bytes=max_uncompressed_bytes,
        max_entries=max_entries,
        max_ratio=max_ratio,
    )


def check_zip_source(
    *,
    source: str | os.PathLike[str] | IO[bytes],
    max_uncompressed_bytes: int,
    max_entries: int,
    max_ratio: float = 200.0,
) -> None:
    """`check_zip` on a path or an open binary file (lets a caller check the bytes it loads)."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            _check_directory(infos, max_uncompressed_bytes, max_entries, max_ratio)
            for info in infos:
                _stream_entry(archive, info)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise  # our bug or our storage, not the uploader's file
    except (
        zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError,
        RuntimeError, ValueError,
    ) as exc:  # fmt: skip
        # bz2 reports a corrupt stream as a bare OSError; zipfile raises NotImplementedError or
        # RuntimeError for features it does not support.
        logger.info("unreadable zip archive: %r", exc)
        raise UnsafeArtifact(
            "corrupt",
            "This file is not a readable zip archive. Save the model again with "
            "`skops.io.dump` and upload the new file.",
        ) from exc


def _check_directory(
    infos: list[zipfile.ZipInfo], max_bytes: int, max_entries: int, max_ratio: float
) -> None:
    if len(infos) > max_entries:
        raise UnsafeArtifact(
            "too_many_entries",
            f"This archive has {len(infos)} entries; ModelGate accepts at most {max_entries}. "
            "Upload the skops file exactly as `skops.io.dump` wrote it.",
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        _check_name(name)
        if name in seen:
            raise UnsafeArtifact(
                "zip_duplicate_entry",
                f"The archive contains the entry {name!r} more than once. Upload the skops file "
                "exactly as `skops.io.dump` wrote it.",
            )
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArtifact(
                "zip_symlink",
                f"The archive entry {name!r} is a symbolic link, which a model file never "
                "contains. Upload the skops file exactly as `skops.io.dump` wrote it.",
            )
        if info.flag_bits & 0x1:
            raise UnsafeArtifact(
                "zip_encrypted",
                f"The archive entry {name!r} is encrypted. Upload an unencrypted skops file.",
            )
        if info.flag_bits & _UNSUPPORTED_FLAGS:
            raise UnsafeArtifact(
                "corrupt",
                f"The archive entry {name!r} uses zip features a model file never needs "
                "(patched data or strong encryption). Save the model again with "
                "`skops.io.dump` and upload the new file.",
            )
        if info.compress_type not in _ALLOWED_METHODS:
            raise UnsafeArtifact(
                "corrupt",
                f"The archive entry {name!r} uses an unsupported compression method "
                f"({info.compress_type}). Save the model again with `skops.io.dump`.",
            )
        total += info.file_size
        if total > max_bytes:
            raise UnsafeArtifact(
                "zip_bomb",
                f"The archive would expand to more than {max_bytes:,} bytes, the limit for a "
                "model. Upload a smaller model, or ask an admin to raise the limit.",
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= _RATIO_MIN_BYTES and ratio > max_ratio:
            raise UnsafeArtifact(
                "zip_bomb",
                f"The archive entry {name!r} expands {ratio:.0f}"
                f" times (limit {max_ratio:.0f}), which is how zip bombs are built. Save the "
                "model again with `skops.io.dump` and upload that file.",
            )


def _check_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or _DRIVE.match(name)
        or ".." in parts
    ):
        raise UnsafeArtifact(
            "zip_traversal",
            f"The archive entry name {name!r} points outside the archive (absolute path, '..', "
            "backslash or drive letter). Upload the skops file exactly as `skops.io.dump` "
            "wrote it.",
        )


def _stream_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    # zipfile stops at the declared size and checks the CRC at the end; counting as well keeps
    # the guarantee explicit should that ever change.
    produced = 0
    with archive.open(info) as entry:
        while chunk := entry.read(_CHUNK):
            produced += len(chunk)
            if produced > info.file_size:
                raise UnsafeArtifact(
                    "zip_bomb",
                    f"The archive entry {info.filename!r} expands beyond its declared size. "
                    "Save the model again with `skops.io.dump` and upload that file.",
                )
    if produced != info.file_size:
        raise UnsafeArtifact(
            "corrupt",
            f"The archive entry {info.filename!r} is shorter than its declared size. Save the "
            "model again with `skops.io.dump` and upload that file.",
        )
