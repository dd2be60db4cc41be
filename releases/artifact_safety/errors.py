"""The one exception every artifact check raises."""

from __future__ import annotations

PICKLE_MESSAGE = (
    "This file is a Python pickle (pickle, joblib and cloudpickle files can run code when "
    "opened), so ModelGate will not load it. Export the model with skops: "
    '`import skops.io as sio; sio.dump(model, "model.skops")`, or convert it to ONNX with '
    "skl2onnx, and upload that file."
)


class UnsafeArtifact(Exception):
    """A model file ModelGate refuses to open.

    ``code`` is a short slug for programs and the audit log ("pickle_refused", "zip_bomb",
    "zip_traversal", "zip_symlink", "zip_encrypted", "zip_duplicate_entry", "too_many_entries",
    "unknown_format", "onnx_external_data", "onnx_custom_op", "onnx_unsupported",
    "forbidden_type", "untrusted_type", "unsupported_type", "schema_too_large",
    "schema_too_complex", "shared_array_file", "not_an_estimator", "unsafe_parameter",
    "too_complex", "invalid_tree", "corrupt"); ``message`` is a sentence telling the uploader
    what to fix, and is also ``str(exc)``: never exception text, file paths or library
    internals (those are logged).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"UnsafeArtifact(code={self.code!r}, message={self.message!r})"
