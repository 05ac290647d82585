"""A workload as numpy columns: the vectorised view the cost models work on.

``prepare(workload)`` is explicit (no hidden cache): sweeps call it once per workload and pass
the table to every design they evaluate.

Each GEMM-like op becomes one or two GEMM rows (attention = QKᵀ and PV); every op keeps one
row of vector work (elementwise ops, norms, softmax inside attention). Byte counts here are
element counts: the cost model multiplies by the design's operand widths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.workload import STAT_FIELDS, Workload

#: Vector-unit operations per output element for non-GEMM kinds (assumption: a norm needs
#: mean, variance, scale, shift ≈ 5 ops/element; softmax max, sub, exp, sum, div ≈ 5).
VECTOR_OPS_PER_ELEMENT = {"norm": 5.0, "softmax": 5.0, "elementwise": 1.0, "reduction": 1.0,
                          "pool": 1.0, "resample": 1.0, "data": 0.0, "other": 1.0,
                          "conv": 0.0, "gemm": 0.0, "attention": 5.0}

_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1,
                "int32": 4, "int64": 8, "bool": 1, "float8_e4m3fn": 1, "float8_e5m2": 1}


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
    # per-op element counts (traced dtype converted to elements)
    act_elems: np.ndarray  # [n_ops] float64
    weight_elems: np.ndarray
    out_elems: np.ndarray
    vector_ops: np.ndarray  # [n_ops] float64, work for the vector unit
    # per-step statistics [steps, n_ops], NaN where not recorded
    stats: dict[str, np.ndarray]

    @property
    def steps(self) -> int:
        return self.workload.steps

    def stat(self, name: str, default: float = 0.0) -> np.ndarray:
        """``[steps, n_ops]`` statistic with NaN (not recorded) replaced by ``default``."""
        arr = self.stats.get(name)
        if arr is None:
            return np.full((self.steps, self.n_ops), default)
        return np.where(np.isnan(arr), default, arr)


def prepare(workload: Workload) -> OpTable:
    """Build the :class:`OpTable` of ``workload``."""
    ops = workload.ops
    n = len(ops)
    kind = np.array([op.kind for op in ops], dtype=object)
    macs = np.array([op.macs for op in ops], dtype=np.int64)
    elem_bytes = np.array([_DTYPE_BYTES.get(op.dtype, 4) for op in ops], dtype=np.float64)
    act = np.array([op.act_bytes for op in ops], dtype=np.float64) / elem_bytes
    wgt = np.array([op.weight_bytes for op in ops], dtype=np.float64) / elem_bytes
    out = np.array([op.out_bytes for op in ops], dtype=np.float64) / elem_bytes

    g_op, g_b, g_m, g_n, g_k, g_param = [], [], [], [], [], []
    vec = np.zeros(n)
    for i, op in enumerate(ops):
        per_elem = VECTOR_OPS_PER_ELEMENT.get(op.kind, 1.0)
        if op.gemm is None:
            vec[i] = per_elem * max(float(op.elements_out), float(out[i]))
            continue
        b, m, nn, k = op.gemm
        g_op.append(i), g_b.append(b), g_m.append(m), g_n.append(nn), g_k.append(k)
        g_param.append(op.weight_is_param)
        if op.kind == "attention":
            # gemm = QKᵀ (b, Lq, Lk, d); the second product is P·V (b, Lq, d, Lk).
            g_op.append(i), g_b.append(b), g_m.append(m), g_n.append(k), g_k.append(nn)
            g_param.append(False)
            vec[i] = per_elem * b * m * nn  # softmax over the score matrix

    stats: dict[str, np.ndarray] = {}
    for name in STAT_FIELDS:
        table = workload.stats.get(name)
        if table is not None:
            stats[name] = np.array(
                [[np.nan if v is None else v for v in row] for row in table], dtype=np.float64
            )
    as_i64 = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
    return OpTable(
        workload=workload,
        n_ops=n,
        kind=kind,
        macs=macs,
        g_op=as_i64(g_op),
        g_batch=as_i64(g_b),
        g_m=as_i64(g_m),
        g_n=as_i64(g_n),
        g_k=as_i64(g_k),
        g_weight_is_param=np.array(g_param, dtype=bool),
        act_elems=act,
        weight_elems=wgt,
        out_elems=out,
        vector_ops=vec,
        stats=stats,
    )
