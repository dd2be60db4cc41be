"""What a reviewer may trust: classes from a curated set of machine-learning packages and a
curated list of pure numeric functions; nothing else (an administrator can still allow a name
through MODELGATE_EXTRA_TRUSTED_TYPES after reviewing it).

A reviewer sees a type name and ticks a box; they cannot be expected to know which of the
hundreds of importable callables run code (``hydra.utils.instantiate``), start processes or write
files (``scipy.sparse.save_npz``). So the decision is made here, from the name alone, and only
modules inside the curated packages are ever imported to find out what a name is.

Plain module: no Django.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass
from typing import Any

from releases.artifact_safety.skops_policy import DEFAULT_TRUSTED_TYPES, is_forbidden_type

logger = logging.getLogger(__name__)

#: Packages whose classes a reviewer may trust. scipy only for its sparse containers.
CLASS_PACKAGES: dict[str, str] = {
    "sklearn": "scikit-learn",
    "imblearn": "imbalanced-learn",
    "lightgbm": "LightGBM",
    "xgboost": "XGBoost",
    "catboost": "CatBoost",
    "numpy": "NumPy",
    "scipy.sparse": "SciPy sparse matrices",
}

#: Plain functions a reviewer may trust: pure numeric transforms with no I/O and no callbacks
#: (numpy and scipy.special ufuncs are trusted by skops already and never reach a reviewer).
PURE_FUNCTIONS: frozenset[str] = frozenset(
    {
        *(
            f"numpy.{name}"
            for name in (
                "clip", "round", "around", "nan_to_num", "sum", "mean", "median", "std", "var",
                "max", "min", "amax", "amin", "cumsum", "cumprod", "prod", "ravel", "sort",
                "where", "asarray", "atleast_2d", "log", "exp", "sqrt", "abs",
                "nanmean", "nanmedian", "nansum", "percentile", "quantile",
            )
        ),
        # Univariate statistics for SelectKBest / SelectPercentile / GenericUnivariateSelect.
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.r_regression",
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
        "sklearn.feature_selection._mutual_info.mutual_info_regression",
    }
)  # fmt: skip

# Inside the curated packages, names that are not model parts: test helpers, dataset
# downloaders, and wrappers that call an arbitrary function they hold.
_NOT_FOR_REVIEWERS: tuple[str, ...] = (
    "sklearn.utils._mocking", "sklearn.utils._testing", "sklearn.utils.parallel",
    "sklearn.utils._joblib", "sklearn.utils.fixes", "sklearn.datasets", "sklearn.externals",
    "sklearn.experimental", "sklearn.utils._show_versions", "sklearn.utils.discovery",
    "sklearn.base.clone", "numpy.vectorize", "numpy.frompyfunc", "numpy.piecewise",
    "numpy.apply_along_axis", "numpy.apply_over_axes", "numpy.lib", "numpy.testing",
    "numpy.f2py", "numpy.distutils", "numpy.ctypeslib", "numpy.DataSource", "numpy.memmap",
    "numpy.ma.core.MaskedArray.tofile", "scipy.sparse.save_npz", "scipy.sparse.load_npz",
    "scipy.sparse._matrix_io", "xgboost.callback", "lightgbm.callback", "catboost.utils",
)  # fmt: skip
_TEST_COMPONENTS = frozenset({"tests", "testing", "conftest", "_testing"})

KIND_CLASS = "class"
KIND_FUNCTION = "function"
KIND_UNKNOWN = "unknown"


@dataclass(frozen=True)
class TypeInfo:
    """What ModelGate can say about a type name, for the trust form and the trust service."""

    name: str
    kind: str  # "class" | "function" | "unknown"
    package: str  # the top-level package, or "" for a malformed name
    reviewer_may_trust: bool
    explanation: str


_ADMIN_ONLY = (
    " A reviewer cannot trust it; only an administrator can allow it, after reviewing it, "
    "through the MODELGATE_EXTRA_TRUSTED_TYPES setting."
)


def _starts(name: str, prefixes: tuple[str, ...] | dict[str, str]) -> str | None:
    for prefix in prefixes:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def describe_type(name: str) -> TypeInfo:
    """Say what ``name`` is and whether a reviewer may trust it (see the module docstring)."""
    package = name.split(".", 1)[0] if "." in name else ""
    if is_forbidden_type(name):
        return TypeInfo(
            name, KIND_UNKNOWN, package, False,
            f"{name} can run code, start processes or touch files, so ModelGate never loads "
            "it, whoever trusts it. Rebuild the model without it.",
        )  # fmt: skip
    if _starts(name, ("numpy", "scipy.special")) and _is_ufunc(_resolve(name)):
        return TypeInfo(
            name, KIND_FUNCTION, package, True,
            f"{name} is a NumPy/SciPy ufunc: a pure element-wise numeric function.",
        )  # fmt: skip
    curated = _starts(name, CLASS_PACKAGES)
    if curated is None and name not in PURE_FUNCTIONS:
        return TypeInfo(
            name, KIND_UNKNOWN, package, False,
            f"{name} comes from {package or 'an unknown package'}, which is not one of the "
            "machine-learning packages ModelGate knows (scikit-learn and its extensions, "
            "NumPy, SciPy sparse matrices)." + _ADMIN_ONLY,
        )  # fmt: skip
    if _starts(name, _NOT_FOR_REVIEWERS) or _TEST_COMPONENTS & set(name.split(".")):
        return TypeInfo(
            name, KIND_UNKNOWN, package, False,
            f"{name} is a helper (test, download, parallelism or file code), not part of a "
            "model." + _ADMIN_ONLY,
        )  # fmt: skip
    obj = _resolve(name)
    kind = _kind(obj)
    label = CLASS_PACKAGES.get(curated or "", package)
    if obj is None:
        return TypeInfo(
            name, KIND_UNKNOWN, package, False,
            f"{name} does not exist in the {label} installed on this server, so ModelGate "
            "cannot tell what it is." + _ADMIN_ONLY,
        )  # fmt: skip
    canonical = _canonical_name(obj)
    if canonical and is_forbidden_type(canonical):
        return TypeInfo(
            name, kind, package, False,
            f"{name} is another name for {canonical}, which ModelGate never loads.",
        )  # fmt: skip
    if kind == KIND_CLASS:
        return TypeInfo(
            name, kind, package, True,
            f"{name} is a {label} class. Trust it if this model is expected to contain it; "
            "ModelGate still checks the model's parameters and fitted structures.",
        )  # fmt: skip
    if kind == KIND_FUNCTION and (name in PURE_FUNCTIONS or name in DEFAULT_TRUSTED_TYPES):
        return TypeInfo(
            name, kind, package, True,
            f"{name} is a pure numeric function from {label}, on ModelGate's list of "
            "functions a model may call.",
        )  # fmt: skip
    if kind == KIND_FUNCTION:
        return TypeInfo(
            name, kind, package, False,
            f"{name} is a function, and functions can do anything when a model calls them; "
            "only pure numeric functions on ModelGate's list can be trusted by a reviewer."
            + _ADMIN_ONLY,
        )  # fmt: skip
    return TypeInfo(
        name, kind, package, False,
        f"{name} is neither a class nor a function on ModelGate's list." + _ADMIN_ONLY,
    )  # fmt: skip


def _resolve(name: str) -> Any:
    """The object ``name`` denotes. Only called for names inside the curated packages, so only
    their modules are ever imported (never an attacker-chosen module)."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        except Exception:  # a broken optional extension must not break the trust page
            logger.warning("importing %s to describe %s failed", module_name, name, exc_info=True)
            return None
        for attr in parts[split:]:
            obj = inspect.getattr_static(obj, attr, None) if not inspect.ismodule(obj) else (
                getattr(obj, attr, None)
            )  # fmt: skip
            if obj is None:
                return None
        return obj
    return None


def _is_ufunc(obj: Any) -> bool:
    import numpy as np

    return isinstance(obj, np.ufunc)


def _kind(obj: Any) -> str:
    if obj is None or inspect.ismodule(obj):
        return KIND_UNKNOWN
    if inspect.isclass(obj):
        return KIND_CLASS
    if callable(obj):
        return KIND_FUNCTION
    return KIND_UNKNOWN


def _canonical_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return ""


def reviewer_may_trust(name: str) -> bool:
    return describe_type(name).reviewer_may_trust
