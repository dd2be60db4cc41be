"""Deciding whether an uploaded model file is safe to open, and opening it safely.

Plain module: no Django, no broker. Every refusal is an `UnsafeArtifact` whose message tells
the uploader what to fix.
"""

from releases.artifact_safety.archive import check_zip, check_zip_source
from releases.artifact_safety.describe import describe_estimator
from releases.artifact_safety.errors import UnsafeArtifact
from releases.artifact_safety.onnx_checks import (
    ALLOWED_ONNX_DOMAINS,
    OnnxInfo,
    OnnxTensorInfo,
    check_onnx,
    load_onnx,
)
from releases.artifact_safety.skops_policy import (
    DEFAULT_TRUSTED_TYPES,
    FORBIDDEN_PREFIXES,
    UntrustedReport,
    classify_untrusted,
    is_forbidden_type,
    load_skops,
    skops_untrusted_types,
)
from releases.artifact_safety.sniff import SNIFF_BYTES, sniff_format
from releases.artifact_safety.tree_checks import validate_fitted_trees

__all__ = [
    "ALLOWED_ONNX_DOMAINS",
    "DEFAULT_TRUSTED_TYPES",
    "FORBIDDEN_PREFIXES",
    "SNIFF_BYTES",
    "OnnxInfo",
    "OnnxTensorInfo",
    "UnsafeArtifact",
    "UntrustedReport",
    "check_onnx",
    "check_zip",
    "check_zip_source",
    "classify_untrusted",
    "describe_estimator",
    "is_forbidden_type",
    "load_onnx",
    "load_skops",
    "skops_untrusted_types",
    "sniff_format",
    "validate_fitted_trees",
]
