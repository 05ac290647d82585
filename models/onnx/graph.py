"""ONNX graph → :class:`~models.workload.Op` list: kinds, GEMM views, MACs, FLOPs, bytes.

Costs follow the torch tracer's rules (``models/trace/ops.py``): 2 FLOPs per MAC for
Conv/ConvTranspose/Gemm/MatMul/Einsum (bias not counted), per-element costs elsewhere. Like
torch views, ``Reshape``/``Squeeze``/``Unsqueeze``/``Flatten``/``Identity``/``Split`` are
skipped, and so are nodes whose outputs are not floating point (shape arithmetic). Nodes of
any other type are kind ``other`` and are listed in ``unsupported``: never silently zero.

Tensor ids (``Op.reads``, ``Op.writes``) come from the graph's value names: each value gets an
id when it is first written or first read (graph inputs, and values of the skipped shape
arithmetic, are read without a producer: step inputs). A skipped view's outputs are names for
its input's value, so the consumer of a ``Reshape`` reads its producer's tensor. Initializers
(trained parameters) have no id.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import onnx
from onnx import TensorProto

from accelerator.errors import TraceError
from models.trace.ops import NORM_FLOPS_PER_ELEMENT, SOFTMAX_FLOPS_PER_ELEMENT
from models.workload import Op

FLOAT_TYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "float64",
    TensorProto.BFLOAT16: "bfloat16",
}
VIEW_TYPES = frozenset({"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Split"})
MAC_TYPES = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum"})
ELEMENTWISE_TYPES = frozenset(
    "Add Sub Mul Div Pow Sqrt Reciprocal Exp Log Sin Cos Tanh Sigmoid Relu LeakyRelu Elu Selu "
    "Gelu Erf Softplus HardSigmoid HardSwish Mish Neg Abs Clip Where Max Min Mean Sum Floor Ceil "
    "Round Sign PRelu Equal Less Greater Not And Or Mod".split()
)
NORM_TYPES = frozenset(
    {
        "InstanceNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "BatchNormalization",
        "RMSNormalization",
        "SimplifiedLayerNormalization",
    }
)
SOFTMAX_TYPES = frozenset({"Softmax", "LogSoftmax"})
POOL_TYPES = frozenset({"AveragePool", "MaxPool", "GlobalAveragePool", "GlobalMaxPool"})
REDUCTION_TYPES = frozenset(
    "ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL2 ReduceSumSquare ReduceLogSumExp ArgMax ArgMin".split()
)
DATA_TYPES = frozenset(
    "Concat Transpose Gather GatherElements GatherND Slice Expand Tile Pad Cast ConstantOfShape "
    "Constant Range ScatterND ScatterElements DepthToSpace SpaceToDepth Shape Size".split()
)
RESAMPLE_FLOPS_PER_ELEMENT = {"nearest": 0, "linear": 7, "cubic": 31}

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ValueInfo:
    """What is known of one graph value: its shape (``None``: unknown) and ONNX element type."""

    shape: Shape | None
    elem_type: int  # onnx.TensorProto data type; 0: unknown


@dataclass(frozen=True)
class MacSite:
    """The activation operand of a MAC node: the graph value's name and its reduction dim."""

    tensor: str
    reduce_dim: int


@dataclass(frozen=True)
class GraphOp:
    """Where the values of one recorded op live in the graph."""

    node: int
    act_inputs: tuple[str, ...]  # floating inputs that are not initializers
    weight_inputs: tuple[str, ...]  # floating initializer inputs
    mac_operand: MacSite | None  # GEMM activation operand


@dataclass(frozen=True)
class OnnxGraph:
    ops: tuple[Op, ...]
    graph_ops: tuple[GraphOp, ...]
    unsupported: tuple[dict[str, Any], ...]
    nodes: int
    skipped_views: int
    skipped_shape_nodes: int
    params: int


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _prod(xs: Sequence[int]) -> int:
    return math.prod(xs) if xs else 1


def _einsum(eq: str, a: Shape, b: Shape) -> tuple[tuple[int, int, int, int], int] | None:
    """GEMM view of a two-operand einsum and the position of A's first contracted index."""
    if "..." in eq or "->" not in eq:
        return None
    lhs, out = eq.replace(" ", "").split("->")
    terms = lhs.split(",")
    if len(terms) != 2 or len(terms[0]) != len(a) or len(terms[1]) != len(b):
        return None
    ta, tb = terms
    size = {**dict(zip(ta, a, strict=True)), **dict(zip(tb, b, strict=True))}
    if any(c not in tb and c not in out for c in ta) or any(c not in ta and c not in out for c in tb):
        return None  # an index summed within one operand: not a plain contraction
    batch = [c for c in out if c in ta and c in tb]
    m = [c for c in out if c in ta and c not in tb]
    n = [c for c in out if c in tb and c not in ta]
    k = [c for c in ta if c in tb and c not in out]
    view = tuple(_prod([size[c] for c in idx]) for idx in (batch, m, n, k))
    return (view[0], view[1], view[2], view[3]), (ta.index(k[0]) if k else len(ta) - 1)


def _mac_cost(
    op_type: str, attrs: dict[str, Any], ins: list[Shape | None], out: Shape, weight_b: bool
) -> tuple[tuple[int, int, int, int], dict[str, Any], int] | None:
    """(GEMM view, params, reduction dim of input 0) of a MAC node, or None if not costable."""
    x = ins[0]
    w = ins[1] if len(ins) > 1 else None
    if x is None or w is None:
        return None
    if op_type == "Conv":
        g = int(attrs.get("group", 1))
        view = (g, x[0] * _prod(out[2:]), w[0] // g, w[1] * _prod(w[2:]))
        params: dict[str, Any] = {k: attrs[k] for k in ("strides", "pads", "dilations") if k in attrs}
        return view, {**params, "groups": g, "kernel": list(w[2:])}, 1
    if op_type == "ConvTranspose":
        g = int(attrs.get("group", 1))
        view = (g, x[0] * _prod(x[2:]), w[1] * _prod(w[2:]), x[1] // g)
        return view, {"groups": g, "kernel": list(w[2:]), "transposed": True}, 1
    if op_type == "Gemm":
        ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
        m, k = (x[1], x[0]) if ta else (x[0], x[1])
        n = w[0] if tb else w[1]
        return (1, m, n, k), {"transA": ta, "transB": tb}, (0 if ta else -1)
    if op_type == "MatMul":
        a = x if len(x) > 1 else (1, x[0])
        b = w if len(w) > 1 else (w[0], 1)
        if weight_b and len(b) == 2:
            return (1, _prod(a[:-1]), b[1], a[-1]), {}, -1
        return (_prod(out[:-2]), a[-2], b[-1], a[-1]), {}, -1
    if op_type == "Einsum":
        got = _einsum(str(attrs.get("equation", "")), x, w)
        if got is None:
            return None
        view, k_pos = got
        return view, {"equation": attrs.get("equation")}, k_pos
    return None


class _ValueIds:
    """Tensor ids of the graph's value names, in order of first appearance (module docstring)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._alias: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self._alias.get(name, name)

    def alias(self, outputs: Sequence[str], source: str) -> None:
        """``outputs`` of a skipped view are names for the value ``source``."""
        for o in outputs:
            self._alias[o] = self._name(source)

    def read(self, name: str) -> int:
        return self._ids.setdefault(self._name(name), len(self._ids))

    def write(self, outputs: Sequence[str]) -> tuple[int, ...]:
        for o in outputs:
            if o in self._ids:
                raise TraceError(f"ONNX value {o!r} is written twice or read before it is written")
            self._ids[o] = len(self._ids)
        return tuple(self._ids[o] for o in outputs)


def _module_of(node: onnx.NodeProto, initializers: set[str]) -> str:
    for name in node.input:
        if name in initializers and "." in name:
            return name.rsplit(".", 1)[0]
    return node.name


def analyse(model: onnx.ModelProto, shapes: Mapping[str, ValueInfo]) -> OnnxGraph:
    """Cost every node of ``model``; ``shapes`` maps every value name to its shape and type."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    params = sum(_prod(list(i.dims)) for i in graph.initializer if i.data_type in FLOAT_TYPES)
    ops: list[Op] = []
    where: list[GraphOp] = []
    unsupported: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    views = shape_nodes = 0
    ids = _ValueIds()

    def info(name: str) -> ValueInfo | None:
        if name in inits:
            return ValueInfo(tuple(inits[name].dims), inits[name].data_type)
        return shapes.get(name)

    def shape_of(name: str) -> Shape | None:
        got = info(name)
        return got.shape if got is not None else None

    def is_float(name: str) -> bool:
        got = info(name)
        return got is not None and got.elem_type in FLOAT_TYPES

    def nbytes(name: str) -> int:
        got = info(name)
        if got is None or got.shape is None:
            return 0
        size = {1: 4, 10: 2, 11: 8, 16: 2, 7: 8, 6: 4, 9: 1, 2: 1, 3: 1}.get(got.elem_type, 4)
        return _prod(got.shape) * size

    for index, node in enumerate(graph.node):
        out_info = [info(o) for o in node.output if o]
        if not any(i is not None and i.elem_type in FLOAT_TYPES for i in out_info):
            shape_nodes += 1
            continue
        if node.op_type in VIEW_TYPES:
            views += 1
            ids.alias(node.output, node.input[0])
            continue
        first_out = out_info[0]
        if first_out is None or first_out.shape is None:
            raise TraceError(f"ONNX node {node.name} ({node.op_type}): output shape unknown")
        out_shape, out_type = first_out.shape, first_out.elem_type
        attrs = _attrs(node)
        in_names = [n for n in node.input if n]
        in_shapes = [shape_of(n) for n in node.input]
        floats = [n for n in in_names if is_float(n)]
        acts = tuple(n for n in floats if n not in inits)
        weights = tuple(n for n in floats if n in inits)
        out_elems = _prod(out_shape)
        first_in = _prod(in_shapes[0]) if in_shapes and in_shapes[0] is not None else 0
        gemm = None
        macs = flops = 0
        op_params: dict[str, Any] = {}
        mac_operand = None
        t = node.op_type
        weight_b = len(node.input) > 1 and node.input[1] in inits
        if t in MAC_TYPES:
            got = _mac_cost(t, attrs, in_shapes, out_shape, weight_b)
            if got is None:
                kind = "other"
                reasons[t] = "MAC op with a form the frontend cannot cost (shape or equation)"
            else:
                kind = "conv" if t.startswith("Conv") else "gemm"
                gemm, op_params, reduce_dim = got
                macs = _prod(list(gemm))
                flops = 2 * macs
                if node.input[0] not in inits:
                    mac_operand = MacSite(node.input[0], reduce_dim)
        elif t in ELEMENTWISE_TYPES:
            kind, flops = "elementwise", out_elems
        elif t in NORM_TYPES:
            kind, flops = "norm", NORM_FLOPS_PER_ELEMENT * first_in
        elif t in SOFTMAX_TYPES:
            kind, flops = "softmax", SOFTMAX_FLOPS_PER_ELEMENT * out_elems
        elif t in POOL_TYPES:
            kind, flops = "pool", first_in
        elif t in REDUCTION_TYPES:
            kind, flops = "reduction", first_in
        elif t in ("Resize", "Upsample"):
            mode = str(attrs.get("mode", "nearest"))
            kind, flops = "resample", RESAMPLE_FLOPS_PER_ELEMENT.get(mode, 0) * out_elems
            op_params = {"mode": mode}
        elif t in DATA_TYPES:
            kind = "data"
        else:
            kind = "other"
            reasons[t] = "no cost rule for this ONNX op type: FLOPs and MACs recorded as 0"
        if kind == "other":
            unsupported[t] += 1
        ops.append(
            Op(
                name=t,
                kind=kind,
                module=_module_of(node, set(inits)),
                dtype=FLOAT_TYPES.get(out_type, "float32"),
                input_shapes=tuple(s for s in in_shapes if s is not None),
                output_shape=tuple(out_shape),
                gemm=gemm,
                macs=macs,
                flops=flops,
                act_bytes=sum(nbytes(n) for n in in_names if n not in inits),
                weight_bytes=sum(nbytes(n) for n in in_names if n in inits),
                out_bytes=nbytes(node.output[0]),
                weight_is_param=bool(gemm is not None and weight_b),
                params={**op_params, "onnx_node": node.name},
                reads=tuple(ids.read(n) for n in in_names if n not in inits),
                writes=ids.write([o for o in node.output if o]),
            )
        )
        where.append(GraphOp(index, acts, weights, mac_operand))
    return OnnxGraph(
        ops=tuple(ops),
        graph_ops=tuple(where),
        unsupported=tuple({"name": n, "count": c, "reason": reasons[n]} for n, c in sorted(unsupported.items())),
        nodes=len(graph.node),
        skipped_views=views,
        skipped_shape_nodes=shape_nodes,
        params=params,
    )
