"""A JSON-safe description of a fitted estimator, for the registry page and the audit log."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_REPR_LIMIT = 200
_MAX_DEPTH = 8


def describe_estimator(est: Any) -> dict[str, Any]:
    """Class (``module.QualName``), shallow params made JSON-safe, and steps for a Pipeline."""
    return _describe(est, depth=0)


def _class_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(est: Any, *, depth: int) -> dict[str, Any]:
    description: dict[str, Any] = {"class": _class_name(est)}
    try:
        params = est.get_params(deep=False)
    except Exception:
        params = {}
    description["params"] = {str(k): _json_safe(v, depth=depth + 1) for k, v in params.items()}
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        description["steps"] = [
            {"name": str(name), "class": _class_name(step)} for name, step in steps
        ]
    return description


def _json_safe(value: Any, *, depth: int) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if depth < _MAX_DEPTH:
        if hasattr(value, "get_params") and not isinstance(value, type):
            return _describe(value, depth=depth)
        if isinstance(value, list | tuple):
            return [_json_safe(v, depth=depth + 1) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: _json_safe(v, depth=depth + 1) for k, v in value.items()}
    return repr(value)[:_REPR_LIMIT]
