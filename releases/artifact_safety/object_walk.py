"""An iterative, budgeted walk over every object a loaded model holds.

Policies must see every nested estimator (pipelines in column transformers in ensembles...)
however deep, so there is no depth cut-off; a node budget bounds the work instead, and the walk
never recurses, so nesting cannot exhaust the stack. Each object is visited once (shared
objects are a DAG, not a tree); the path to an object is rebuilt only when a message needs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import numpy as np

from releases.artifact_safety.errors import UnsafeArtifact

#: Objects one walk may visit. A 500-tree forest holds about 20,000.
DEFAULT_OBJECT_BUDGET = 1_000_000

_ATOMIC = (type(None), bool, int, float, complex, str, bytes, bytearray, np.generic, np.dtype)
_PATH_PARTS = 8


class ObjectWalk:
    """``for obj, handle in ObjectWalk(root): ...``; ``walk.path(handle)`` names where obj is."""

    def __init__(self, root: Any, *, budget: int = DEFAULT_OBJECT_BUDGET) -> None:
        self.root = root
        self.budget = budget
        # One (label, parent handle) per visited object: parents, not path strings, so a deep
        # chain costs linear memory.
        self._links: list[tuple[str, int]] = []

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        seen = {id(self.root)}
        self._links = [("model", -1)]
        stack: list[tuple[Any, int]] = [(self.root, 0)]
        while stack:
            obj, handle = stack.pop()
            yield obj, handle
            for label, child in children(obj):
                if isinstance(child, _ATOMIC) or (
                    isinstance(child, np.ndarray) and child.dtype != object
                ):
                    continue
                if id(child) in seen:
                    continue
                seen.add(id(child))
                if len(self._links) >= self.budget:
                    raise UnsafeArtifact(
                        "too_complex",
                        f"This model holds more than {self.budget:,} objects, more than "
                        "ModelGate checks. Upload a smaller model.",
                    )
                self._links.append((label, handle))
                stack.append((child, len(self._links) - 1))

    def path(self, handle: int) -> str:
        """A readable path such as ``model.steps[1][1].tokenizer`` (the last few parts)."""
        parts: list[str] = []
        while handle >= 0:
            label, handle = self._links[handle]
            parts.append(label)
        parts.reverse()
        if len(parts) > _PATH_PARTS:
            parts = ["model", "...", *parts[-(_PATH_PARTS - 1) :]]
        return "".join(parts)

    @property
    def visited(self) -> int:
        return len(self._links)


def children(obj: Any) -> Iterator[tuple[str, Any]]:
    """(label, child) pairs: container items, object-array items, instance attributes."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"[{key!r}]" if isinstance(key, str | int) else "[...]", value
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            yield f"[{index}]", value
    elif isinstance(obj, set | frozenset):
        for value in obj:
            yield "{...}", value
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for index, value in enumerate(obj.ravel()):
                yield f"[{index}]", value
    elif inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj):
        return
    else:
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict):
            for name, value in attributes.items():
                yield f".{name}", value
