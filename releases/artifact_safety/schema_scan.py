"""A bounded, linear-time reading of a skops file's ``schema.json``.

skops' own ``get_untrusted_types`` builds its node tree (reading every array entry an array node
names, once per node) and then walks it without a memo, so a few hundred bytes of shared
references make it exponential and one large entry named by thousands of nodes makes it read
gigabytes. This scan answers the same question -- which names would skops need trusted -- from
the JSON alone:

* ``schema.json`` is refused above a byte cap before it is read, and above an item cap (counted
  with ``bytes.count``) before it is parsed, so the parsed document has a bounded size;
* every node is visited once, iteratively: a node whose ``__id__`` was already seen is the node
  skops' memo returns, exactly as skops resolves it (first occurrence in construction order);
* the number of node visits skops' audit would make is computed on that graph (capped), and a
  schema above `AUDIT_VISIT_BUDGET` is refused, so the later load in the sandbox stays bounded
  too; a reference cycle (which ``skops.io.dump`` never writes) is refused;
* an archive entry read by more than one node is refused (``skops.io.dump`` writes each array
  once), so loading reads every byte of the archive at most once.

The per-loader rules (which names each node declares, which of its keys hold children) mirror
skops 0.16 (protocols 0-2); ``tests/releases/test_schema_scan.py`` checks agreement with
``skops.io.get_untrusted_types`` on real models. Plain module: no Django.
"""

from __future__ import annotations

import json
import logging
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from releases.artifact_safety.errors import UnsafeArtifact

logger = logging.getLogger(__name__)

SCHEMA_NAME = "schema.json"
DEFAULT_MAX_SCHEMA_BYTES = 16 * 1024**2
# skops writes ``schema.json`` indented: real models spend about 45 bytes per JSON item (a
# 500-tree forest: 7.7 MB, 172,000 items). One item per 16 bytes leaves room for any real model
# and bounds what the parser can allocate (a parsed item costs well under 100 bytes).
_BYTES_PER_ITEM = 16
_MIN_ITEMS = 10_000
#: Node visits skops' audit may make. A real model's audit visits each written node once.
AUDIT_VISIT_BUDGET = 1_000_000

KIND_CLASS = "class"
KIND_FUNCTION = "function"
KIND_UNKNOWN = "unknown"  # a TypeNode: a class, or a builtin function stored like one
_KIND_RANK = {KIND_CLASS: 0, KIND_UNKNOWN: 1, KIND_FUNCTION: 2}


@dataclass(frozen=True)
class SchemaScan:
    """What `scan_skops_schema` learned from ``schema.json``."""

    #: name -> "class" | "function" | "unknown", for every name skops would need trusted.
    types: Mapping[str, str]
    protocol: int
    root_type: str
    root_loader: str
    #: the scikit-learn version the root estimator was saved with, when the file says.
    sklearn_version: str | None
    skops_version: str | None
    nodes: int
    audit_visits: int

    @property
    def names(self) -> list[str]:
        return sorted(self.types)

    @property
    def root_is_object(self) -> bool:
        """True when the root is an instance (an estimator or pipeline is), not a container."""
        return self.root_loader == "ObjectNode"


def _corrupt(reason: str) -> UnsafeArtifact:
    return UnsafeArtifact(
        "corrupt",
        f"This skops file could not be read: {reason}. Save the model again with "
        "`skops.io.dump` and upload the new file.",
    )


def read_schema_bytes(archive: zipfile.ZipFile, *, max_schema_bytes: int) -> bytes:
    """``schema.json``'s bytes, refused above ``max_schema_bytes`` before any is inflated."""
    try:
        info = archive.getinfo(SCHEMA_NAME)
    except KeyError:
        raise _corrupt("it has no schema.json") from None
    if info.file_size > max_schema_bytes:
        raise _schema_too_large(info.file_size, max_schema_bytes)
    with archive.open(info) as entry:
        data = entry.read(max_schema_bytes + 1)
    if len(data) > max_schema_bytes:  # the header lied; check_zip refuses that too
        raise _corrupt("schema.json is larger than its header says")
    return data


def check_schema_size(*, source: str | Path | IO[bytes], max_schema_bytes: int) -> None:
    """Refuse an oversized ``schema.json`` from the zip directory alone (reads no entry)."""
    try:
        with zipfile.ZipFile(source) as archive:
            try:
                size = archive.getinfo(SCHEMA_NAME).file_size
            except KeyError:
                return  # the scan says so, after the archive checks name what else is wrong
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        logger.info("unreadable skops archive: %r", exc)
        raise _corrupt("it is not a readable zip archive") from exc
    if size > max_schema_bytes:
        raise _schema_too_large(size, max_schema_bytes)


def _schema_too_large(size: int, max_schema_bytes: int) -> UnsafeArtifact:
    return UnsafeArtifact(
        "schema_too_large",
        f"This model's schema.json is {size:,} bytes; ModelGate reads at most "
        f"{max_schema_bytes:,}. Upload a smaller model, or ask an administrator to raise "
        "MODELGATE_MAX_SCHEMA_BYTES.",
    )


def scan_skops_schema(
    *, source: str | Path | IO[bytes], max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES
) -> SchemaScan:
    """Scan a skops archive's schema. Raises `UnsafeArtifact`; never loads anything.

    The caller runs `check_zip` first (entry names, sizes and ratios).
    """
    try:
        with zipfile.ZipFile(source) as archive:
            data = read_schema_bytes(archive, max_schema_bytes=max_schema_bytes)
            sizes = {info.filename: info.file_size for info in archive.infolist()}
    except (
        zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError,
    ) as exc:  # fmt: skip
        logger.info("unreadable skops archive: %r", exc)
        raise _corrupt("it is not a readable zip archive") from exc
    return scan_schema_bytes(data, entry_sizes=sizes, max_schema_bytes=max_schema_bytes)


def scan_schema_bytes(
    data: bytes, *, entry_sizes: Mapping[str, int], max_schema_bytes: int
) -> SchemaScan:
    """`scan_skops_schema` on ``schema.json``'s bytes and the archive's entry sizes."""
    max_items = max(_MIN_ITEMS, max_schema_bytes // _BYTES_PER_ITEM)
    # Every JSON value is a container or follows a comma (or is the single top value), so this
    # bounds what json.loads can allocate, in a few C-speed passes.
    items = data.count(b"{") + data.count(b"[") + data.count(b",")
    if items > max_items:
        raise UnsafeArtifact(
            "schema_too_complex",
            f"This model's schema.json has more than {max_items:,} items, more than any model "
            "ModelGate accepts. Save the model again with `skops.io.dump`; if it really is "
            "that large, ask an administrator to raise MODELGATE_MAX_SCHEMA_BYTES.",
        )
    try:
        schema = json.loads(data)
    except RecursionError:
        raise _corrupt("schema.json is nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise _corrupt("schema.json is not valid JSON") from None
    if not isinstance(schema, dict):
        raise _corrupt("schema.json does not describe an object")
    protocol = schema.get("protocol")
    current = _rules().protocol
    if isinstance(protocol, bool) or not isinstance(protocol, int) or not 0 <= protocol <= current:
        raise _corrupt(
            f"its skops protocol {protocol!r} is not one this server reads (0 to {current})"
        )
    return _Walker(protocol=protocol, entry_sizes=entry_sizes).run(schema)


# --- what each skops loader declares ---------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    protocol: int
    primitive_and_containers: frozenset[str]
    numpy_dtypes: frozenset[str]
    numpy_ufuncs: frozenset[str]
    scipy_ufuncs: frozenset[str]
    sklearn_objects: frozenset[str]
    bit_generators: frozenset[str]
    losses: frozenset[str]
    quantile_forest: str | None
    sparse: frozenset[str]
    ndarray: frozenset[str]


_RULES: list[_Rules] = []


def _rules() -> _Rules:
    """skops' default trust lists, read from skops itself so an upgrade cannot drift silently."""
    if _RULES:
        return _RULES[0]
    import numpy as np
    import scipy.sparse as sparse
    from skops.io import _quantile_forest, _sklearn, _trusted_types
    from skops.io._protocol import PROTOCOL
    from skops.io._utils import get_module, get_type_paths

    quantile = _quantile_forest.QuantileForest
    rules = _Rules(
        protocol=PROTOCOL,
        primitive_and_containers=frozenset(
            _trusted_types.PRIMITIVE_TYPE_NAMES + _trusted_types.CONTAINER_TYPE_NAMES
        ),
        numpy_dtypes=frozenset(_trusted_types.NUMPY_DTYPE_TYPE_NAMES),
        numpy_ufuncs=frozenset(_trusted_types.NUMPY_UFUNC_TYPE_NAMES),
        scipy_ufuncs=frozenset(_trusted_types.SCIPY_UFUNC_TYPE_NAMES),
        sklearn_objects=frozenset(
            _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES + _trusted_types.SKLEARN_INTERNAL_TYPE_NAMES
        ),
        bit_generators=frozenset(_trusted_types.NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES),
        losses=frozenset(f"{get_module(x)}.{x.__name__}" for x in _sklearn.ALLOWED_LOSSES),
        quantile_forest=None if quantile is None else get_module(quantile),
        sparse=frozenset(get_type_paths([sparse.spmatrix, sparse.sparray])),
        ndarray=frozenset(get_type_paths([np.ndarray])),
    )
    _RULES.append(rules)
    return rules


_SIMPLE_CONTAINERS = {
    "ListNode": "builtins.list",
    "SetNode": "builtins.set",
    "TupleNode": "builtins.tuple",
}
_FILE_NODES = {"BytesNode": "builtins.bytes", "BytearrayNode": "builtins.bytearray"}


@dataclass
class _Node:
    loader: str
    module: str
    cls: str
    children: list[int] = field(default_factory=list)


class _Walker:
    def __init__(self, *, protocol: int, entry_sizes: Mapping[str, int]) -> None:
        self.protocol = protocol
        self.rules = _rules()
        self.entry_sizes = entry_sizes
        self.nodes: list[_Node] = []
        self.memo: dict[Any, int] = {}
        self.types: dict[str, str] = {}
        self.files_read: set[str] = set()
        self.first_sklearn_version: str | None = None

    # -- helpers

    def _declare(self, name: str, kind: str) -> None:
        if _KIND_RANK[kind] >= _KIND_RANK[self.types.get(name, KIND_CLASS)]:
            self.types[name] = kind

    def _declare_unless(self, name: str, trusted: frozenset[str] | set[str], kind: str) -> None:
        if name not in trusted:
            self._declare(name, kind)

    def _read_file(self, state: dict[str, Any]) -> None:
        name = state.get("file")
        if not isinstance(name, str) or name not in self.entry_sizes:
            raise _corrupt("a node names an array file the archive does not contain")
        if name in self.files_read:
            # skops reads the entry once per node: one large array named by thousands of nodes
            # would be read thousands of times. skops.io.dump never writes that.
            raise UnsafeArtifact(
                "shared_array_file",
                "This skops file makes several objects read the same array file, which "
                "skops.io.dump never writes and which would multiply the memory needed to "
                "load it. Save the model again with `skops.io.dump` and upload the new file.",
            )
        self.files_read.add(name)

    # -- the walk

    def run(self, schema: dict[str, Any]) -> SchemaScan:
        # (state, parent node index or -1). Children are pushed in reverse so they are visited
        # in the order skops constructs them, which decides who owns a repeated __id__.
        stack: list[tuple[Any, int]] = [(schema, -1)]
        while stack:
            state, parent = stack.pop()
            index = self._visit(state, stack)
            if parent >= 0:
                self.nodes[parent].children.append(index)
        for node in self.nodes:
            if node.loader == "MethodNode":
                obj = self.nodes[node.children[0]]
                if (obj.module, obj.cls) != (node.module, node.cls):
                    raise _corrupt("a method refers to an object of another type")
        visits = self._audit_visits()
        root = self.nodes[0]
        return SchemaScan(
            types=dict(self.types),
            protocol=self.protocol,
            root_type=f"{root.module}.{root.cls}",
            root_loader=str(schema.get("__loader__")),
            sklearn_version=_sklearn_version(schema) or self.first_sklearn_version,
            skops_version=_text(schema.get("_skops_version")),
            nodes=len(self.nodes),
            audit_visits=visits,
        )

    def _visit(self, state: Any, stack: list[tuple[Any, int]]) -> int:
        if not isinstance(state, dict):
            raise _corrupt("a node of schema.json is not an object")
        saved_id = state.get("__id__")
        if isinstance(saved_id, list | dict):
            raise _corrupt("a node has an invalid __id__")
        if saved_id in self.memo:
            return self.memo[saved_id]  # what skops' memo hands back
        loader, module, cls = (state.get(k) for k in ("__loader__", "__module__", "__class__"))
        if not (isinstance(loader, str) and isinstance(module, str) and isinstance(cls, str)):
            raise _corrupt("a node lacks its loader, module or class")
        index = len(self.nodes)
        self.nodes.append(_Node(loader=loader, module=module, cls=cls))
        if saved_id and loader != "CachedNode":
            self.memo[saved_id] = index
        handler = _HANDLERS.get(loader)
        if handler is None:
            raise _corrupt(f"it uses an unknown node type {loader[:60]!r}")
        children = handler(self, state, f"{module}.{cls}", index)
        for child in reversed(children):
            stack.append((child, index))
        if (
            self.first_sklearn_version is None
            and loader == "ObjectNode"
            and module.startswith("sklearn.")
        ):
            self.first_sklearn_version = _sklearn_version(state)
        return index

    def _audit_visits(self) -> int:
        """Visits skops' unmemoised audit makes: 1 + the children's, per edge (capped)."""
        cap = AUDIT_VISIT_BUDGET + 1
        total = [0] * len(self.nodes)
        colour = [0] * len(self.nodes)  # 0 new, 1 on the path, 2 done
        stack: list[tuple[int, int]] = [(0, 0)]
        colour[0] = 1
        while stack:
            node, position = stack[-1]
            children = self.nodes[node].children
            if position < len(children):
                stack[-1] = (node, position + 1)
                child = children[position]
                if colour[child] == 1:
                    raise _corrupt("an object in schema.json contains itself")
                if colour[child] == 0:
                    colour[child] = 1
                    stack.append((child, 0))
                continue
            stack.pop()
            colour[node] = 2
            total[node] = min(cap, 1 + sum(total[c] for c in children))
        if total[0] > AUDIT_VISIT_BUDGET:
            raise UnsafeArtifact(
                "schema_too_complex",
                "This skops file's objects share parts in a way that would take skops "
                f"more than {AUDIT_VISIT_BUDGET:,} steps to check (skops.io.dump never writes "
                "that). Save the model again with `skops.io.dump` and upload the new file.",
            )
        return total[0]


def _text(value: Any) -> str | None:
    return value[:100] if isinstance(value, str) else None


def _sklearn_version(state: dict[str, Any]) -> str | None:
    """``_sklearn_version`` from an ObjectNode's attribute dict (a JsonNode holding a string)."""
    try:
        value = json.loads(state["content"]["content"]["_sklearn_version"]["content"])
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    return _text(value)


def _require(state: dict[str, Any], *keys: str) -> Any:
    value: Any = state
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise _corrupt(f"a node lacks its {key!r} entry")
        value = value[key]
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _corrupt("a node's content is not a list")
    return value


# Each handler declares the node's own names and returns its child states in skops' order.
_Handler = Callable[[_Walker, dict[str, Any], str, int], list[Any]]


def _dict_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, {"builtins.dict", "collections.OrderedDict"}, KIND_CLASS)
    key_types = _require(state, "key_types")
    content = _require(state, "content")
    if not isinstance(content, dict):
        raise _corrupt("a dict node's content is not an object")
    return [key_types, *content.values()]


def _default_dict_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, {"collections.defaultdict"}, KIND_CLASS)
    return [_require(state, "content", "main"), _require(state, "content", "default_factory")]


def _container_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, {_SIMPLE_CONTAINERS[state["__loader__"]]}, KIND_CLASS)
    return _list(_require(state, "content"))


def _file_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, {_FILE_NODES[state["__loader__"]]}, KIND_CLASS)
    w._read_file(state)
    return []


def _slice_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    for key in ("start", "stop", "step"):
        _require(state, "content", key)
    return []  # skops declares nothing for a slice


def _function_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    if w.protocol == 0:
        module, function = (_require(state, "content", k) for k in ("module_path", "function"))
        if not isinstance(module, str) or not isinstance(function, str):
            raise _corrupt("a function node has no name")
        w._declare_unless(f"{module}.{function}", w.rules.scipy_ufuncs, KIND_FUNCTION)
        return []
    w._declare_unless(name, w.rules.scipy_ufuncs | w.rules.numpy_ufuncs, KIND_FUNCTION)
    return []


def _method_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    obj = _require(state, "content", "obj")
    func = _require(state, "content", "func")
    if not isinstance(func, str) or not isinstance(obj, dict):
        raise _corrupt("a method node is malformed")
    w._declare(name, KIND_CLASS)
    # The object is declared by its own node; skops declares the bound method by the object's
    # type name, which the deferred check guarantees equals this node's.
    w._declare(f"{name}.{func}", KIND_FUNCTION)
    return [obj]


def _partial_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare(name, KIND_CLASS)
    return [_require(state, "content", k) for k in ("func", "args", "kwds", "namespace")]


def _type_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, w.rules.primitive_and_containers | w.rules.numpy_dtypes, KIND_UNKNOWN)
    return []


def _constructor_from_reduce_node(
    w: _Walker, state: dict[str, Any], name: str, index: int
) -> list[Any]:
    w._declare(name, KIND_CLASS)
    return [_require(state, "content")]


def _object_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, w.rules.sklearn_objects, KIND_CLASS)
    content = state.get("content")
    return [] if content is None else [content]


def _json_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    _require(state, "content")
    return []


def _operator_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    if state["__module__"] != "operator":
        raise _corrupt("an operator node names another module")
    w._declare(name, KIND_FUNCTION)
    return [_require(state, "attrs")]


def _ndarray_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, w.rules.ndarray | w.rules.numpy_dtypes, KIND_CLASS)
    kind = _require(state, "type")
    if kind == "numpy":
        w._read_file(state)
        return []
    if kind == "json":
        return [*_list(_require(state, "content")), _require(state, "shape")]
    raise _corrupt("an array node has an unknown storage type")


def _masked_array_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, {"numpy.ma.MaskedArray"}, KIND_CLASS)
    return [_require(state, "content", "data"), _require(state, "content", "mask")]


def _random_state_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, {"numpy.random.mtrand.RandomState"}, KIND_CLASS)
    return [_require(state, "content")]


def _random_generator_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    if w.protocol == 0:
        raise _corrupt("it stores a random generator in a format skops can no longer read")
    w._declare_unless(name, {"numpy.random._generator.Generator"}, KIND_CLASS)
    bit_generator = _require(state, "content", "bit_generator")
    try:
        generator_name = json.loads(bit_generator["content"]["bit_generator"]["content"])
    except (KeyError, TypeError, ValueError, RecursionError):
        generator_name = None
    if not isinstance(generator_name, str):
        raise _corrupt("a random generator has no bit generator name")
    w._declare_unless(f"numpy.random.{generator_name}", w.rules.bit_generators, KIND_CLASS)
    if w.protocol == 1:
        return [bit_generator]
    return [bit_generator, _require(state, "content", "seed_seq")]


def _dtype_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare(name, KIND_CLASS)
    return [_require(state, "content")]


def _sparse_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    w._declare_unless(name, w.rules.sparse, KIND_CLASS)
    if state.get("type") != "scipy":
        raise _corrupt("a sparse matrix node has an unknown storage type")
    w._read_file(state)
    return []


def _reduce_children(state: dict[str, Any]) -> list[Any]:
    args = _require(state, "__reduce__", "args")
    return [_require(state, "content"), args]


def _tree_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    children = _reduce_children(state)
    w._declare(name, KIND_CLASS)
    # The constructor is always sklearn's Tree, whatever the file says, and is declared too.
    w._declare("sklearn.tree._tree.Tree", KIND_CLASS)
    return children


def _loss_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    children = _reduce_children(state)
    # Declared by the node itself and by its constructor (a TypeNode of the same name).
    w._declare_unless(
        name,
        w.rules.losses | w.rules.primitive_and_containers | w.rules.numpy_dtypes,
        KIND_UNKNOWN,
    )
    return children


def _quantile_forest_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    if w.rules.quantile_forest is None:
        raise UnsafeArtifact(
            "unsupported_type",
            "This model needs the quantile-forest package, which this server does not have. "
            "Upload a model built from scikit-learn components.",
        )
    children = _reduce_children(state)
    w._declare(name, KIND_CLASS)
    w._declare(f"{w.rules.quantile_forest}.QuantileForest", KIND_UNKNOWN)
    return children


def _cached_node(w: _Walker, state: dict[str, Any], name: str, index: int) -> list[Any]:
    # A reference to a known __id__ was resolved before reaching here: this one is dangling.
    raise _corrupt("a node refers to an object that does not exist")


_HANDLERS: dict[str, _Handler] = {
    "CachedNode": _cached_node,
    "DictNode": _dict_node,
    "DefaultDictNode": _default_dict_node,
    "ListNode": _container_node,
    "SetNode": _container_node,
    "TupleNode": _container_node,
    "BytesNode": _file_node,
    "BytearrayNode": _file_node,
    "SliceNode": _slice_node,
    "FunctionNode": _function_node,
    "MethodNode": _method_node,
    "PartialNode": _partial_node,
    "TypeNode": _type_node,
    "ConstructorFromReduceNode": _constructor_from_reduce_node,
    "ObjectNode": _object_node,
    "JsonNode": _json_node,
    "OperatorFuncNode": _operator_node,
    "NdArrayNode": _ndarray_node,
    "MaskedArrayNode": _masked_array_node,
    "RandomStateNode": _random_state_node,
    "RandomGeneratorNode": _random_generator_node,
    "DTypeNode": _dtype_node,
    "SparseMatrixNode": _sparse_node,
    "TreeNode": _tree_node,
    "LossNode": _loss_node,
    "QuantileForestNode": _quantile_forest_node,
}
