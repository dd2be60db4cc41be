"""A JSON-safe description of a fitted estimator, for the registry page and the audit log.

Linear in the estimator's size: each estimator object is described once (a shared one is named
again, not re-described), the whole description is capped at `_MAX_VALUES` values, and
estimators or containers are never passed to ``repr`` (scikit-learn's pretty printer is
exponential in pipeline nesting: 14 nested pipelines took 15 s).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_REPR_LIMIT = 200
_STRING_LIMIT = 2_000
_MAX_DEPTH = 8
_MAX_VALUES = 5_000
_MAX_STEPS = 1_000
_CUT = "..."


class _Budget:
    def __init__(self) -> None:
        self.left = _MAX_VALUES
        self.described: set[int] = set()

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def describe_estimator(est: Any) -> dict[str, Any]:
    """Class (``module.QualName``), shallow params made JSON-safe, and steps for a Pipeline."""
    return _describe(est, depth=0, budget=_Budget())


def _class_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(est: Any, *, depth: int, budget: _Budget) -> dict[str, Any]:
    description: dict[str, Any] = {"class": _class_name(est)}
    if id(est) in budget.described:
        description["described_above"] = True
        return description
    budget.described.add(id(est))
    try:
        params = est.get_params(deep=False)
    except Exception:
        params = {}
    safe: dict[str, Any] = {}
    for key, value in params.items():
        if not budget.take():
            safe[_CUT] = "description truncated"
            break
        safe[str(key)] = _json_safe(value, depth=depth + 1, budget=budget)
    description["params"] = safe
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        description["steps"] = [
            {"name": str(name), "class": _class_name(step)} for name, step in steps[:_MAX_STEPS]
        ]
    return description


def _json_safe(value: Any, *, depth: int, budget: _Budget) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value[:_STRING_LIMIT]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    is_estimator = hasattr(value, "get_params") and not isinstance(value, type)
    if depth < _MAX_DEPTH:
        if is_estimator:
            return _describe(value, depth=depth, budget=budget)
        if isinstance(value, list | tuple):
            items = []
            for item in value:
                if not budget.take():
                    items.append(_CUT)
                    break
                items.append(_json_safe(item, depth=depth + 1, budget=budget))
            return items
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            mapping: dict[str, Any] = {}
            for key, item in value.items():
                if not budget.take():
                    mapping[_CUT] = "description truncated"
                    break
                mapping[key] = _json_safe(item, depth=depth + 1, budget=budget)
            return mapping
    if is_estimator:
        return f"<{_class_name(value)}>"
    if isinstance(value, list | tuple | dict | set):
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        return repr(value)[:_REPR_LIMIT]
    except Exception:
        return f"<{_class_name(value)}>"
