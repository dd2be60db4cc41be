"""Inspecting an ONNX model without running it, and opening it with nothing extra enabled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
import onnxruntime
from google.protobuf.message import DecodeError

from releases.artifact_safety.errors import UnsafeArtifact

ALLOWED_ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnnxTensorInfo:
    """One graph input or output: ``type`` is e.g. "FLOAT", "STRING", "sequence", "map"."""

    name: str
    type: str
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True)
class OnnxInfo:
    """What `check_onnx` learned: graph inputs/outputs and the opset per domain."""

    inputs: tuple[OnnxTensorInfo, ...]
    outputs: tuple[OnnxTensorInfo, ...]
    opset: dict[str, int]
    ir_version: int
    producer: str

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)


def check_onnx(*, path: str | Path) -> OnnxInfo:
    """Refuse external data and non-standard operator domains; describe the graph.

    Parses the protobuf only (``load_external_data=False``): nothing is executed and no other
    file is opened. Raises `UnsafeArtifact`.
    """
    model = _parse(Path(path).read_bytes())
    return _inspect(model)


def load_onnx(
    *, path: str | Path, intra_op_threads: int | None = None, memory_arena: bool = True
) -> onnxruntime.InferenceSession:
    """`check_onnx`, then an ONNX Runtime session on the CPU with no custom-op libraries.

    The session is built from the very bytes that were checked (not from the path), so the
    file cannot change in between, and ONNX Runtime has no directory to resolve external data
    against. ``intra_op_threads`` caps ONNX Runtime's thread pool (serving: gunicorn's workers
    and threads already use the cores, and idle pool threads spin-wait by default). Without
    ``memory_arena`` tensors are allocated and freed one by one instead of from an arena that
    grows by doubling and keeps what it took (the sandbox: one job, a memory limit).
    """
    data = Path(path).read_bytes()
    _inspect(_parse(data))
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.load_model_format", "ONNX")
    options.enable_cpu_mem_arena = memory_arena
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises its own untyped exception classes
        logger.info("ONNX Runtime refused a model: %r", exc)
        raise _runtime_refused(exc) from exc


def _parse(data: bytes) -> onnx.ModelProto:
    try:
        return onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        logger.info("unreadable ONNX file: %r", exc)
        raise UnsafeArtifact(
            "corrupt",
            "This file is not a readable ONNX model (its protobuf data is malformed). Convert "
            "the model again (for example with skl2onnx) and upload the new file.",
        ) from exc


def _supported_opset() -> str:
    return f"ONNX opset {onnx.defs.onnx_opset_version()}"


def _runtime_refused(exc: BaseException) -> UnsafeArtifact:
    """A sentence for what ONNX Runtime could not do, never its raw message."""
    kind = type(exc).__name__
    if kind == "NotImplemented":
        what = (
            "it uses an operator, or an operator version or input type, that ONNX Runtime on "
            "this server does not implement"
        )
    elif kind in {"InvalidGraph", "InvalidArgument", "InvalidProtobuf"}:
        what = "ONNX Runtime found the graph invalid (inputs, outputs or types do not connect)"
    else:
        what = "ONNX Runtime could not prepare it to run"
    return UnsafeArtifact(
        "onnx_unsupported",
        f"ModelGate cannot run this ONNX model: {what}. Convert the model again with standard "
        f"operators and a target opset that ONNX Runtime {onnxruntime.__version__} supports, "
        "for example with skl2onnx's `to_onnx(model, X, target_opset=...)`, check that it "
        "runs with that onnxruntime version on your machine, and upload it again.",
    )


def _inspect(model: onnx.ModelProto) -> OnnxInfo:
    for tensor in _all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise UnsafeArtifact(
                "onnx_external_data",
                f"The tensor {tensor.name!r} keeps its data in a separate file, which ModelGate "
                "does not open. Save the model with all data inside the .onnx file "
                "(`onnx.save_model(model, path, save_as_external_data=False)`) and upload it.",
            )
    domains = {op.domain for op in model.opset_import}
    domains |= {node.domain for node in _all_nodes(model)}
    domains |= {function.domain for function in model.functions}
    custom = sorted(domains - ALLOWED_ONNX_DOMAINS)
    if custom:
        raise UnsafeArtifact(
            "onnx_custom_op",
            "This model uses operators from " + ", ".join(repr(d) for d in custom) + ", which "
            "need custom code in the runtime. Only standard ONNX and ONNX-ML operators are "
            "allowed: convert the model without custom operators and upload it again.",
        )
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        logger.info("ONNX checker refused a model: %r", exc)
        raise UnsafeArtifact(
            "corrupt",
            "This ONNX model does not pass the ONNX checker (an operator, attribute, type or "
            f"opset is invalid or newer than this server supports, up to {_supported_opset()}). "
            "Convert the model again with a supported target opset, check it with "
            "`onnx.checker.check_model`, and upload it again.",
        ) from exc
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    return OnnxInfo(
        inputs=tuple(_value_info(v) for v in graph.input if v.name not in initializers),
        outputs=tuple(_value_info(v) for v in graph.output),
        opset={op.domain or "ai.onnx": int(op.version) for op in model.opset_import},
        ir_version=int(model.ir_version),
        producer=model.producer_name,
    )


def _value_info(value: onnx.ValueInfoProto) -> OnnxTensorInfo:
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return OnnxTensorInfo(name=value.name, type=_kind_name(kind), shape=None)
    tensor_type = value.type.tensor_type
    shape: tuple[int | str | None, ...] | None = None
    if tensor_type.HasField("shape"):
        shape = tuple(
            dim.dim_value
            if dim.HasField("dim_value")
            else (dim.dim_param if dim.HasField("dim_param") else None)
            for dim in tensor_type.shape.dim
        )
    return OnnxTensorInfo(
        name=value.name,
        type=onnx.TensorProto.DataType.Name(tensor_type.elem_type),
        shape=shape,
    )


def _kind_name(kind: str | None) -> str:
    return {
        "sequence_type": "sequence",
        "map_type": "map",
        "optional_type": "optional",
        "sparse_tensor_type": "sparse_tensor",
    }.get(kind or "", "unknown")


def _graphs(model: onnx.ModelProto) -> Iterator[onnx.GraphProto]:
    pending: list[onnx.GraphProto] = [model.graph]
    pending += [info.algorithm for info in model.training_info]
    pending += [info.initialization for info in model.training_info]
    nodes: list[onnx.NodeProto] = [n for f in model.functions for n in f.node]
    while pending or nodes:
        if pending:
            graph = pending.pop()
            yield graph
            nodes.extend(graph.node)
            continue
        node = nodes.pop()
        for attr in node.attribute:
            if attr.HasField("g"):
                pending.append(attr.g)
            pending.extend(attr.graphs)


def _all_nodes(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    for graph in _graphs(model):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def _all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    for graph in _graphs(model):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
    for node in _all_nodes(model):
        yield from _attribute_tensors(node)


def _attribute_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor.values
            yield attr.sparse_tensor.indices
        for sparse in attr.sparse_tensors:
            yield sparse.values
            yield sparse.indices
