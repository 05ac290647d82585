"""A workload as numpy columns: the vectorised view the cost models work on.

``prepare(workload)`` is explicit (no hidden cache): sweeps call it once per workload and pass
the table to every design they evaluate.

Each GEMM-like op becomes one or two GEMM rows (attention = QKᵀ and PV, marked so the cost
model can fuse them); every op keeps one row of vector work (elementwise ops, norms, softmax
inside attention). Counts here are *elements*: the cost model multiplies by the design's
operand widths. GEMM rows with the same shape and footprint share one entry of the unique
table (``u_*``), so the mapper searches each distinct shape once.

Convolutions keep their geometry so that DRAM traffic counts the input tensor (with the halo
a tile of output rows needs), not the im2col matrix ``M×K``, which repeats each input pixel up
to R·S times.

``prepare(workload, batch=B)`` costs B images at once (:func:`with_batch`): the table's ops are
those of one step of the batch, and :func:`simulator.evaluation.evaluate_prepared` reports its
energies per image (``table.batch``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np

from models.workload import STAT_FIELDS, Op, Workload

#: Vector-unit operations per output element for non-GEMM kinds (assumption: a norm needs
#: mean, variance, scale, shift ≈ 5 ops/element; softmax max, sub, exp, sum, div ≈ 5).
VECTOR_OPS_PER_ELEMENT = {
    "norm": 5.0,
    "softmax": 5.0,
    "elementwise": 1.0,
    "reduction": 1.0,
    "pool": 1.0,
    "resample": 1.0,
    "data": 0.0,
    "other": 1.0,
    "conv": 0.0,
    "gemm": 0.0,
    "attention": 5.0,
}

_DTYPE_BYTES = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float64": 8,
    "int8": 1,
    "uint8": 1,
    "int32": 4,
    "int64": 8,
    "bool": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
}

#: ``g_role`` values: a plain GEMM, the QKᵀ and the P·V product of one attention op.
ROLE_PLAIN, ROLE_QK, ROLE_PV = 0, 1, 2


@dataclass(frozen=True)
class ConvGeometry:
    """2-D geometry of convolution GEMM rows, per image (arrays over rows; 1 on rows that are
    not convolutions). ``conv`` marks the rows the halo model applies to
    (:func:`simulator.cost.traffic.conv_input_factor`)."""

    conv: np.ndarray  # bool: a convolution with known 2-D geometry
    img: np.ndarray  # images N
    in_h: np.ndarray  # input height H, pixels
    in_w: np.ndarray  # input width W, pixels
    out_q: np.ndarray  # output width Q, pixels
    stride: np.ndarray  # vertical stride, pixels
    kr: np.ndarray  # filter height R
    ks: np.ndarray  # filter width S

    def map(self, f: Callable[[np.ndarray], np.ndarray]) -> ConvGeometry:
        """The geometry with ``f`` applied to every array (row selection, reshaping)."""
        return ConvGeometry(**{x.name: f(getattr(self, x.name)) for x in fields(self)})


@dataclass(frozen=True)
class OpTable:
    """Column arrays over the ops of one step (``n_ops``) and GEMM rows (``n_gemm``)."""

    workload: Workload
    n_ops: int
    kind: np.ndarray  # [n_ops] object array of kind strings
    macs: np.ndarray  # [n_ops] int64
    # GEMM rows
    g_op: np.ndarray  # [n_gemm] op index of each GEMM row
    g_batch: np.ndarray
    g_m: np.ndarray
    g_n: np.ndarray
    g_k: np.ndarray
    g_weight_is_param: np.ndarray  # bool
    g_role: np.ndarray  # ROLE_* per row
    g_a_unique: np.ndarray  # elements of A's footprint per batch item (conv: the input tensor)
    g_geo: ConvGeometry  # convolution geometry per row (int64; 1 where not a convolution)
    # unique GEMM shapes: g_u[row] indexes the u_rows table (first row of each shape)
    g_u: np.ndarray
    u_rows: np.ndarray
    # per-op element counts (traced dtype converted to elements)
    act_elems: np.ndarray  # [n_ops] float64
    weight_elems: np.ndarray
    out_elems: np.ndarray
    vector_ops: np.ndarray  # [n_ops] float64, work for the vector unit
    chain_in: np.ndarray  # [n_ops] bool: one input is the previous op's output (chain_edges)
    out_shared: np.ndarray  # [n_ops] bool: another op than the next reads the output (written even if kept)
    # per-step statistics [steps, n_ops], NaN where not recorded
    stats: dict[str, np.ndarray]
    batch: int = 1  # images per step (with_batch): results are per image = per batch / batch

    @property
    def steps(self) -> int:
        return self.workload.steps

    @property
    def n_gemm(self) -> int:
        return int(self.g_op.shape[0])

    def stat(self, name: str, default: float = 0.0) -> np.ndarray:
        """``[steps, n_ops]`` statistic with NaN (not recorded) replaced by ``default``."""
        arr = self.stats.get(name)
        if arr is None:
            return np.full((self.steps, self.n_ops), default)
        return np.where(np.isnan(arr), default, arr)

    def has_stat(self, name: str) -> np.ndarray:
        """``[steps, n_ops]`` bool: the statistic was recorded."""
        arr = self.stats.get(name)
        if arr is None:
            return np.zeros((self.steps, self.n_ops), dtype=bool)
        return ~np.isnan(arr)


@dataclass(frozen=True)
class _Conv:
    img: int
    in_h: int
    in_w: int
    out_q: int
    stride: int
    kr: int
    ks: int
    a_unique: float  # input elements per group


class _GemmRow(NamedTuple):
    """One GEMM row while the table is built (see :class:`OpTable`'s ``g_*`` columns)."""

    op: int
    batch: int
    m: int
    n: int
    k: int
    weight_is_param: bool
    role: int
    a_unique: float
    geo: _Conv | None


def _conv_geometry(op: Op) -> _Conv | None:
    """2-D geometry of a (non-transposed) convolution, or ``None`` when it is not known."""
    if op.kind != "conv" or op.gemm is None or len(op.input_shapes) < 2:
        return None
    x, w, out = op.input_shapes[0], op.input_shapes[1], op.output_shape
    if op.params.get("transposed") or len(x) != 4 or len(w) != 4 or len(out) != 4:
        return None
    groups = op.gemm[0]
    sh = int(op.conv_stride[0])
    unique = math.prod(x) / groups
    return _Conv(
        img=x[0], in_h=x[2], in_w=x[3], out_q=out[3], stride=max(sh, 1), kr=w[2], ks=w[3], a_unique=float(unique)
    )


def _chained(prev: Op | None, op: Op) -> bool:
    """Heuristic for traces without tensor ids (format version 1, layer lists): ``op`` reads
    ``prev``'s output when one of its inputs has that many elements (docs/simulator.md)."""
    if prev is None or not prev.output_shape:
        return False
    n = math.prod(prev.output_shape)
    return n > 0 and any(math.prod(s) == n for s in op.input_shapes if s)


class Chaining(NamedTuple):
    """Which ops may take their input on chip from the op before them (:func:`chain_edges`)."""

    chain_in: np.ndarray  # [n] bool: the op before wrote a tensor this op reads
    out_shared: np.ndarray  # [n] bool: an op other than the next one reads what this op writes


def chain_edges(workload: Workload, ops: Sequence[int] | None = None) -> Chaining:
    """Per op of ``ops`` (default: all, in order): may its input stay on chip from the op before
    it in ``ops`` (``chain_in``), and must its output reach DRAM even when kept for the next op
    (``out_shared``)?

    With tensor ids (trace format 2): ``chain_in`` when the op before wrote a tensor this one
    reads; ``out_shared`` when an op of the whole workload other than the next one of ``ops``
    reads a tensor this op writes (a ResNet block's input, read by its first norm and by the
    residual add; a skip connection; a tensor another core reads), so a kept output is still
    written for that reader. Without ids: :func:`_chained`'s size rule, and ``out_shared`` False
    (docs/simulator.md).
    """
    picked = list(range(len(workload.ops))) if ops is None else list(ops)
    chain = np.zeros(len(picked), dtype=bool)
    shared = np.zeros(len(picked), dtype=bool)
    if not workload.has_tensor_ids:
        for j in range(1, len(picked)):
            chain[j] = _chained(workload.ops[picked[j - 1]], workload.ops[picked[j]])
        return Chaining(chain, shared)
    readers: dict[int, set[int]] = {}
    for i, op in enumerate(workload.ops):
        for t in op.reads:
            readers.setdefault(t, set()).add(i)
    for j, i in enumerate(picked):
        nxt = {picked[j + 1]} if j + 1 < len(picked) else set()
        written = workload.ops[i].writes
        shared[j] = any(readers.get(t, set()) - nxt for t in written)
        if j:
            chain[j] = bool(set(workload.ops[picked[j - 1]].writes) & set(workload.ops[i].reads))
    return Chaining(chain, shared)


#: Most images per batch (:func:`with_batch`): a scenario's ``batch`` is bounded by it.
MAX_BATCH = 256


def _param_inputs(op: Op) -> frozenset[int]:
    """Indices of ``op``'s inputs that are parameters: the subset whose bytes (at the op's dtype)
    add up to ``weight_bytes`` (traces record parameter bytes apart, not which input they are).
    Where several subsets match (an ``x`` as large as its weight), a parametrised GEMM's
    activation operand (input 1 of ``addmm``, else input 0) is not a parameter."""
    if op.weight_bytes == 0 or not op.input_shapes:
        return frozenset()
    size = _DTYPE_BYTES.get(op.dtype.removeprefix("torch."), 4)
    nbytes = [math.prod(s) * size for s in op.input_shapes]
    act = 1 if "addmm" in op.name else 0
    n = len(nbytes)
    found = [
        frozenset(c)
        for r in range(1, min(n, 6) + 1)
        for c in itertools.combinations(range(n), r)
        if sum(nbytes[i] for i in c) == op.weight_bytes
    ]
    if not found:
        return frozenset()
    return next((c for c in found if act not in c), found[0]) if op.weight_is_param else found[-1]


def batch_op(op: Op, batch: int) -> Op:
    """``op`` run on ``batch`` times as many images: parameters shared, activations scaled.

    A GEMM with a trained weight (convolutions, linear layers) gets ``M × batch`` (weights
    unchanged); a GEMM of two activations and attention get their ``batch`` (batch·heads) ×
    ``batch``; every op's MACs, FLOPs, activation and output bytes scale, parameter bytes do
    not; shapes scale along their leading (image) dimension, parameters' excepted."""
    params = dict(op.params)
    gemm = op.gemm
    if gemm is not None:
        b, m, n, k = gemm
        gemm = (b, m * batch, n, k) if op.weight_is_param else (b * batch, m, n, k)
        if op.kind == "attention":
            g2 = params.get("gemm2")
            if g2 is not None:
                params["gemm2"] = [int(g2[0]) * batch, *(int(v) for v in g2[1:])]
            if "softmax_elements" in params:
                params["softmax_elements"] = int(params["softmax_elements"]) * batch
    fixed = _param_inputs(op)
    shapes = tuple(s if (i in fixed or not s) else (s[0] * batch, *s[1:]) for i, s in enumerate(op.input_shapes))
    out = (op.output_shape[0] * batch, *op.output_shape[1:]) if op.output_shape else op.output_shape
    return replace(
        op,
        gemm=gemm,
        input_shapes=shapes,
        output_shape=out,
        macs=op.macs * batch,
        flops=op.flops * batch,
        act_bytes=op.act_bytes * batch,
        out_bytes=op.out_bytes * batch,
        params=params,
    )


def with_batch(workload: Workload, batch: int) -> Workload:
    """``workload`` with every step run on ``batch`` images at once (:func:`batch_op`).

    Traced statistics are fractions and stay as they are. A trace that already runs several
    images per call (classifier-free guidance: 2 per image, provenance ``cfg``) keeps that
    factor: ``batch`` images make ``batch`` times the traced call. ``batch == 1`` returns
    ``workload`` itself. Raises :class:`~models.workload.WorkloadError` when the batched step
    passes the format's limits (``MAX_MACS_PER_STEP``)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch must be an integer in [1, {MAX_BATCH}], got {batch!r}")
    if batch == 1:
        return workload
    traced = workload.provenance.get("batch", 1)
    return replace(
        workload,
        ops=tuple(batch_op(op, batch) for op in workload.ops),
        provenance={**workload.provenance, "batch": traced * batch if isinstance(traced, int) else traced,
                    "images_per_batch": batch},
    )  # fmt: skip


def prepare(workload: Workload, *, batch: int = 1) -> OpTable:
    """Build the :class:`OpTable` of ``workload`` run on ``batch`` images per step."""
    workload = with_batch(workload, batch)
    ops = workload.ops
    n = len(ops)
    kind = np.array([op.kind for op in ops], dtype=object)
    macs = np.array([op.macs for op in ops], dtype=np.int64)
    elem_bytes = np.array([_DTYPE_BYTES.get(op.dtype, 4) for op in ops], dtype=np.float64)
    act = np.array([op.act_bytes for op in ops], dtype=np.float64) / elem_bytes
    wgt = np.array([op.weight_bytes for op in ops], dtype=np.float64) / elem_bytes
    out = np.array([op.out_bytes for op in ops], dtype=np.float64) / elem_bytes

    rows: list[_GemmRow] = []
    vec = np.zeros(n)
    chain = chain_edges(workload)
    for i, op in enumerate(ops):
        per_elem = VECTOR_OPS_PER_ELEMENT.get(op.kind, 1.0)
        if op.gemm is None:
            vec[i] = per_elem * max(float(op.elements_out), float(out[i]))
            continue
        b, m, nn, k = op.gemm
        geo = _conv_geometry(op)
        a_unique = geo.a_unique if geo is not None else float(m * k)
        if op.kind == "attention":
            rows.append(_GemmRow(i, b, m, nn, k, False, ROLE_QK, float(m * k), None))
            g2 = op.params.get("gemm2")
            b2, m2, n2, k2 = (int(v) for v in g2) if g2 else (b, m, k, nn)
            rows.append(_GemmRow(i, b2, m2, n2, k2, False, ROLE_PV, float(m2 * k2), None))
            vec[i] = per_elem * b * m * nn  # softmax over the score matrix
        else:
            rows.append(_GemmRow(i, b, m, nn, k, op.weight_is_param, ROLE_PLAIN, a_unique, geo))

    def col(values: list[object], dtype: type = np.int64) -> np.ndarray:
        return np.array(values, dtype=dtype)

    def geo_col(attr: str) -> np.ndarray:
        return col([getattr(r.geo, attr) if r.geo else 1 for r in rows])

    keys = [
        (r.batch, r.m, r.n, r.k, r.weight_is_param, r.role, r.a_unique)
        + ((r.geo.img, r.geo.in_h, r.geo.in_w, r.geo.out_q, r.geo.stride, r.geo.kr, r.geo.ks) if r.geo else ())
        for r in rows
    ]
    first: dict[tuple[object, ...], int] = {}
    g_u = np.array([first.setdefault(key, len(first)) for key in keys], dtype=np.int64)
    u_rows = np.zeros(len(first), dtype=np.int64)
    for row in range(len(rows) - 1, -1, -1):
        u_rows[g_u[row]] = row

    stats: dict[str, np.ndarray] = {}
    for name in STAT_FIELDS:
        table = workload.stats.get(name)
        if table is not None:
            stats[name] = np.array([[np.nan if v is None else v for v in row] for row in table], dtype=np.float64)
    return OpTable(
        workload=workload,
        n_ops=n,
        kind=kind,
        macs=macs,
        g_op=col([r.op for r in rows]),
        g_batch=col([r.batch for r in rows]),
        g_m=col([r.m for r in rows]),
        g_n=col([r.n for r in rows]),
        g_k=col([r.k for r in rows]),
        g_weight_is_param=col([r.weight_is_param for r in rows], bool),
        g_role=col([r.role for r in rows]),
        g_a_unique=col([r.a_unique for r in rows], np.float64),
        g_geo=ConvGeometry(
            conv=col([r.geo is not None for r in rows], bool),
            img=geo_col("img"),
            in_h=geo_col("in_h"),
            in_w=geo_col("in_w"),
            out_q=geo_col("out_q"),
            stride=geo_col("stride"),
            kr=geo_col("kr"),
            ks=geo_col("ks"),
        ),
        g_u=g_u,
        u_rows=u_rows,
        act_elems=act,
        weight_elems=wgt,
        out_elems=out,
        vector_ops=vec,
        chain_in=chain.chain_in,
        out_shared=chain.out_shared,
        stats=stats,
        batch=batch,
    )
