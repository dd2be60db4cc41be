"""Deciding whether an uploaded model file is safe to open, and opening it safely.

Plain module: no Django, no broker. Every refusal is an `UnsafeArtifact` whose message tells
the uploader what to fix.
"""

from releases.artifact_safety.archive import check_zip, check_zip_source
from releases.artifact_safety.describe import describe_estimator
from releases.artifact_safety.errors import UnsafeArtifact
from releases.artifact_safety.object_walk import DEFAULT_OBJECT_BUDGET, ObjectWalk
from releases.artifact_safety.onnx_checks import (
    ALLOWED_ONNX_DOMAINS,
    OnnxInfo,
    OnnxTensorInfo,
    check_onnx,
    load_onnx,
)
from releases.artifact_safety.param_policy import check_parameters, check_root_is_estimator
from releases.artifact_safety.schema_scan import (
    DEFAULT_MAX_SCHEMA_BYTES,
    SchemaScan,
    check_schema_size,
    scan_skops_schema,
)
from releases.artifact_safety.skops_policy import (
    DEFAULT_TRUSTED_TYPES,
    FORBIDDEN_PREFIXES,
    LoadedSkops,
    UntrustedReport,
    classify_untrusted,
    is_forbidden_type,
    load_skops,
    load_skops_with_scan,
    refuse_untrusted,
    skops_untrusted_types,
)
from releases.artifact_safety.sniff import SNIFF_BYTES, onnx_opset_domains, sniff_format
from releases.artifact_safety.tree_checks import validate_fitted_trees
from releases.artifact_safety.trust_policy import PURE_FUNCTIONS, TypeInfo, describe_type

__all__ = [
    "ALLOWED_ONNX_DOMAINS",
    "DEFAULT_MAX_SCHEMA_BYTES",
    "DEFAULT_OBJECT_BUDGET",
    "DEFAULT_TRUSTED_TYPES",
    "FORBIDDEN_PREFIXES",
    "PURE_FUNCTIONS",
    "SNIFF_BYTES",
    "LoadedSkops",
    "ObjectWalk",
    "OnnxInfo",
    "OnnxTensorInfo",
    "SchemaScan",
    "TypeInfo",
    "UnsafeArtifact",
    "UntrustedReport",
    "check_onnx",
    "check_parameters",
    "check_root_is_estimator",
    "check_schema_size",
    "check_zip",
    "check_zip_source",
    "classify_untrusted",
    "describe_estimator",
    "describe_type",
    "is_forbidden_type",
    "load_onnx",
    "load_skops",
    "load_skops_with_scan",
    "onnx_opset_domains",
    "refuse_untrusted",
    "scan_skops_schema",
    "skops_untrusted_types",
    "sniff_format",
    "validate_fitted_trees",
]
