"""Parameter policy: refuse estimators whose parameters make them do I/O or run code.

The type allowlist says which classes may be built; it cannot say how they are configured, and
default-trusted scikit-learn classes can be configured to read files (a text vectorizer with
``input="filename"`` opens every value it is given as a path), call arbitrary functions
(``tokenizer=``, ``FunctionTransformer(func=...)``, ``score_func=``), cache to disk
(``memory=``) or start process pools (``n_jobs``, which is reset to None, since it changes how
a model computes and never what). This module checks every object the loaded
model holds, through pipelines, column transformers, ensembles' fitted estimators, calibrated
classifiers, lists, dicts and object arrays, with no depth cut-off (`ObjectWalk`).

Applied after loading and before anything calls the model. Plain module: no Django.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Collection
from typing import Any

import numpy as np

from releases.artifact_safety.errors import UnsafeArtifact
from releases.artifact_safety.object_walk import DEFAULT_OBJECT_BUDGET, ObjectWalk
from releases.artifact_safety.skops_policy import DEFAULT_TRUSTED_TYPES
from releases.artifact_safety.trust_policy import PURE_FUNCTIONS

# Functions scikit-learn itself stores while loading (never read from the file): the isotonic
# calibrator rebuilds a scipy interp1d in __setstate__, which keeps its kernel as an attribute.
_LIBRARY_INTERNAL_FUNCTIONS = frozenset(
    f"scipy.interpolate._interpolate._call_{kind}"
    for kind in ("linear_np", "linear", "nearest", "previousnext")
)
_PREDICTING_METHODS = ("predict", "predict_proba", "transform", "decision_function")
# Classes a parameter may hold as a value (``dtype=np.float64``): plain data types.
_DATA_TYPES = (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)


def _callable_name(obj: Any) -> str:
    from skops.io._utils import get_module

    name = getattr(obj, "__name__", None) or type(obj).__name__
    try:
        module = get_module(obj)
    except Exception:
        module = getattr(obj, "__module__", None) or "?"
    return f"{module}.{name}"


def _is_function(obj: Any) -> bool:
    return (
        inspect.isroutine(obj)
        or isinstance(obj, np.ufunc | functools.partial)
        or type(obj).__name__ in {"_ArrayFunctionDispatcher", "cython_function_or_method"}
    )


def _is_estimator(obj: Any) -> bool:
    return not inspect.isclass(obj) and callable(getattr(obj, "get_params", None))


def check_root_is_estimator(model: Any) -> None:
    """Refuse a file whose top object is not an estimator or pipeline (a list, a dict...)."""
    # Looked up on the class, statically: a pipeline's predict is a descriptor that asks its last
    # step, which for a deeply nested pipeline is a recursion of its own.
    cls = type(model)
    if _is_estimator(model) and any(
        inspect.getattr_static(cls, m, None) is not None for m in _PREDICTING_METHODS
    ):
        return
    raise UnsafeArtifact(
        "not_an_estimator",
        f"This file holds a {type(model).__name__}, not a model: ModelGate needs a fitted "
        "scikit-learn estimator or pipeline at the top. Save the fitted model itself with "
        "`skops.io.dump(model, ...)` and upload that file.",
    )


def check_parameters(
    model: Any, *, trusted: Collection[str] = (), budget: int = DEFAULT_OBJECT_BUDGET
) -> None:
    """Raise `UnsafeArtifact` ("unsafe_parameter") for the first object configured to do I/O or
    run code; ``trusted`` adds the names an administrator or reviewer trusted. Resets every
    ``n_jobs`` to None on the way (one process, same predictions)."""
    check_root_is_estimator(model)
    allowed_functions = (
        PURE_FUNCTIONS | DEFAULT_TRUSTED_TYPES | _LIBRARY_INTERNAL_FUNCTIONS | frozenset(trusted)
    )
    walk = ObjectWalk(model, budget=budget)
    for obj, handle in walk:
        problem = _problem(obj, allowed_functions, frozenset(trusted))
        if problem:
            raise UnsafeArtifact(
                "unsafe_parameter",
                f"{walk.path(handle)} {problem} Rebuild the model without it and upload it again.",
            )


def _problem(obj: Any, allowed_functions: frozenset[str], trusted: frozenset[str]) -> str:
    if inspect.isclass(obj):
        name = _callable_name(obj)
        if issubclass(obj, np.generic | np.dtype) or obj in _DATA_TYPES or name in trusted:
            return ""
        return (
            f"holds the class {name}, which a model could call to build arbitrary objects; "
            "only data types may be stored as values."
        )
    if inspect.ismethod(obj):
        return (
            f"holds the bound method {_callable_name(obj.__func__)}, and ModelGate does not let "
            "a model call methods of other objects."
        )
    if _is_function(obj):
        if isinstance(obj, np.ufunc):
            return ""  # element-wise numeric functions
        name = _callable_name(obj)
        if name in allowed_functions:
            return ""
        return (
            f"holds the function {name}, and ModelGate only lets a model call pure numeric "
            "functions from its list (NumPy ufuncs such as numpy.log1p, numpy.clip, "
            "scikit-learn's feature-selection statistics)."
        )
    if not _is_estimator(obj):
        return ""
    params = vars(obj) if isinstance(getattr(obj, "__dict__", None), dict) else {}
    if _is_text_vectorizer(obj) and params.get("input", "content") != "content":
        return (
            f"is a text vectorizer with input={params.get('input')!r}, which makes it open "
            "each value it is given as a file; only input='content' is allowed."
        )
    if params.get("memory") is not None:
        return (
            "has memory= set, which caches to a directory on disk; set memory=None before "
            "saving the model."
        )
    if params.get("n_jobs") is not None:
        # Worker pools inside the sandbox would multiply its memory and processes. n_jobs changes
        # how a model computes, never what: reset it rather than refuse the many models that
        # were saved with n_jobs=-1.
        obj.n_jobs = None
    pre_dispatch = params.get("pre_dispatch")
    if isinstance(pre_dispatch, str) and pre_dispatch not in _PRE_DISPATCH_WORDS:
        # joblib evaluates a pre_dispatch string with eval().
        return (
            f"has pre_dispatch={pre_dispatch[:40]!r}, which joblib evaluates as Python code; "
            "only an integer or '2*n_jobs' is allowed."
        )
    getter = params.get("importance_getter")
    if isinstance(getter, str) and "__" in getter:
        return (
            f"has importance_getter={getter[:60]!r}, which reaches into Python internals; use "
            "'auto' or the name of a fitted attribute."
        )
    return ""


_PRE_DISPATCH_WORDS = frozenset({"2*n_jobs", "n_jobs", "all"})


def _is_text_vectorizer(obj: Any) -> bool:
    from sklearn.feature_extraction.text import _VectorizerMixin

    return isinstance(obj, _VectorizerMixin)
