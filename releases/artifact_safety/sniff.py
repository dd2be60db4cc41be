"""Decide what a model file is from its first bytes, never from its name."""

from __future__ import annotations

import pickletools
import zlib
from typing import IO

from releases.artifact_safety.errors import PICKLE_MESSAGE, UnsafeArtifact

#: How many leading bytes `sniff_format` needs. Enough for a pickle's first opcodes and for the
#: leading fields of an ONNX ModelProto (ir_version, producer, opset imports).
SNIFF_BYTES = 4096

_ZIP_MAGIC = b"PK\x03\x04"

# joblib's compressed dumps are a pickle inside one of these containers; we never decompress
# them to find out, the container alone is reason enough to refuse.
_COMPRESSION_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"ZF", "joblib zlib"),  # joblib < 0.10 ("ZF" + length + zlib stream)
)

# ModelProto field number -> protobuf wire type (0 varint, 2 length-delimited).
_MODELPROTO_FIELDS = {
    1: 0,  # ir_version
    2: 2,  # producer_name
    3: 2,  # producer_version
    4: 2,  # domain
    5: 0,  # model_version
    6: 2,  # doc_string
    7: 2,  # graph
    8: 2,  # opset_import
    14: 2,  # metadata_props
    20: 2,  # training_info
    25: 2,  # functions
    26: 2,  # configuration
}
_MAX_IR_VERSION = 64

# A protocol 0/1 pickle has no header; an arbitrary file parses as a few opcodes by chance far
# less often than this many in a row.
_MIN_PICKLE_OPCODES = 3


def sniff_format(*, head: bytes) -> str:
    """Return "skops" or "onnx" for the first `SNIFF_BYTES` bytes of a file.

    Raises `UnsafeArtifact` ("pickle_refused") for pickle, joblib (plain or compressed) and
    cloudpickle files, and ("unknown_format") for anything else. Nothing is executed or
    decompressed: pickles are recognised by their protocol header or by `pickletools.genops`,
    which only parses opcodes.
    """
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if _looks_like_pickle(head):
        raise UnsafeArtifact("pickle_refused", PICKLE_MESSAGE)
    compression = _compression_name(head)
    if compression is not None:
        raise UnsafeArtifact(
            "pickle_refused",
            f"This file is {compression}-compressed, which is how joblib saves compressed models "
            "(a Python pickle inside, which can run code when opened), so ModelGate will not "
            "load it. Export the model with skops: `import skops.io as sio; sio.dump(model, "
            '"model.skops")`, or convert it to ONNX with skl2onnx, and upload that file.',
        )
    if _looks_like_onnx(head):
        return "onnx"
    raise UnsafeArtifact(
        "unknown_format",
        "ModelGate could not recognise this file as a skops (.skops) or ONNX (.onnx) model. "
        "Save the model with `skops.io.dump` or convert it with skl2onnx, and upload that file.",
    )


def _looks_like_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True  # PROTO opcode: protocols 2-5
    count = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(head):
            count += 1
            if opcode.name == "STOP":
                return count >= 2
    except Exception:
        return count >= _MIN_PICKLE_OPCODES
    return count >= _MIN_PICKLE_OPCODES


def _compression_name(head: bytes) -> str | None:
    for magic, name in _COMPRESSION_MAGICS:
        if head.startswith(magic):
            return name
    if len(head) >= 2:
        cmf, flg = head[0], head[1]
        if cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0:
            # Validate further by inflating a little: cheap, bounded, and never unpickles.
            try:
                zlib.decompressobj().decompress(head, 64)
            except zlib.error:
                return None
            return "zlib"
    return None


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 64, 7):
        if pos >= len(data):
            raise IndexError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
    raise ValueError("varint too long")


def _looks_like_onnx(head: bytes) -> bool:
    """Walk the top-level protobuf fields that fit in ``head``; all must be ModelProto fields."""
    pos = 0
    seen: set[int] = set()
    try:
        while pos < len(head):
            key, pos = _read_varint(head, pos)
            field, wire = key >> 3, key & 7
            if _MODELPROTO_FIELDS.get(field) != wire:
                return False
            seen.add(field)
            if wire == 0:
                value, pos = _read_varint(head, pos)
                if field == 1 and not 1 <= value <= _MAX_IR_VERSION:
                    return False
            else:
                length, pos = _read_varint(head, pos)
                pos += length  # may run past the head: the field is simply truncated
    except IndexError:
        pass  # truncated inside a field header
    except ValueError:
        return False
    return 1 in seen and 7 in seen


# Bounds for `onnx_opset_domains`: a real ModelProto has a handful of top-level fields and a few
# short opset entries; anything past these is refused rather than walked.
_MAX_TOP_LEVEL_FIELDS = 10_000
_MAX_OPSET_ENTRY_BYTES = 1024
_OPSET_IMPORT_FIELD = 8


def onnx_opset_domains(handle: IO[bytes]) -> set[str]:
    """The operator-set domains an ONNX file imports, read without parsing its graph.

    Walks only the top-level protobuf fields of the ModelProto, skipping each by its length
    (the graph is never read), and decodes the small ``opset_import`` entries. Cost is bounded
    by `_MAX_TOP_LEVEL_FIELDS` seeks, whatever the graph holds. Raises `UnsafeArtifact`
    ("corrupt") on a malformed or oversized header.
    """
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    domains: set[str] = set()
    for _ in range(_MAX_TOP_LEVEL_FIELDS):
        if handle.tell() >= size:
            return domains
        key = _read_stream_varint(handle)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _read_stream_varint(handle)
        elif wire == 1:
            handle.seek(8, 1)
        elif wire == 5:
            handle.seek(4, 1)
        elif wire == 2:
            length = _read_stream_varint(handle)
            if handle.tell() + length > size:
                raise _onnx_corrupt()
            if field == _OPSET_IMPORT_FIELD:
                if length > _MAX_OPSET_ENTRY_BYTES:
                    raise _onnx_corrupt()
                domains.add(_opset_domain(handle.read(length)))
            else:
                handle.seek(length, 1)
        else:
            raise _onnx_corrupt()
    raise _onnx_corrupt()


def _read_stream_varint(handle: IO[bytes]) -> int:
    result = 0
    for shift in range(0, 64, 7):
        byte = handle.read(1)
        if not byte:
            raise _onnx_corrupt()
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
    raise _onnx_corrupt()


def _opset_domain(entry: bytes) -> str:
    """OperatorSetIdProto: field 1 is the domain (string), field 2 the version (varint)."""
    pos, domain = 0, ""
    try:
        while pos < len(entry):
            key, pos = _read_varint(entry, pos)
            field, wire = key >> 3, key & 7
            if wire == 0:
                _value, pos = _read_varint(entry, pos)
            elif wire == 2:
                length, pos = _read_varint(entry, pos)
                if field == 1:
                    domain = entry[pos : pos + length].decode("utf-8")
                pos += length
            else:
                raise _onnx_corrupt()
    except (IndexError, ValueError):
        raise _onnx_corrupt() from None
    return domain


def _onnx_corrupt() -> UnsafeArtifact:
    return UnsafeArtifact(
        "corrupt",
        "This ONNX file could not be read (its header is malformed). Convert the model again "
        "(for example with skl2onnx) and upload the new file.",
    )
