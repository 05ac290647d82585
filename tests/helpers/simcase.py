"""Builders shared by the closed-form tests: small designs and one-op workloads."""

from __future__ import annotations

from typing import Any

from accelerator.spec import ArchSpec
from models.layers import AttentionLayer, ConvLayer, GemmLayer, attention_op, conv_op, gemm_op
from models.workload import Op, Workload

BIG_GLB_BYTES = 1 << 30  # everything fits: the mapping keeps whole operands on chip


def arch(
    rows: int = 8,
    cols: int = 8,
    dataflow: str = "output_stationary",
    precision: str = "int8",
    *,
    glb_bytes: int = BIG_GLB_BYTES,
    glb_bw: float = 1 << 20,
    dram_gbps: float = 1e6,
    double_buffered: bool = True,
    sparsity: dict[str, Any] | None = None,
    rf: bool = False,
    compute_extra: dict[str, Any] | None = None,
    **top: Any,
) -> ArchSpec:
    """A design whose memory never limits (unless asked): compute cycles are exposed."""
    mpc = {"int8": 1, "int4": 2} if precision in ("int8", "int4") else {precision: 1}
    levels: list[dict[str, Any]] = []
    if rf:
        levels.append({"name": "rf", "size_bytes": 64, "per_pe": True, "width_bits": 8, "bandwidth_bytes_per_cycle": 4})
    levels.append(
        {
            "name": "glb",
            "size_bytes": glb_bytes,
            "banks": 256,
            "width_bits": 512,
            "bandwidth_bytes_per_cycle": glb_bw,
            "double_buffered": double_buffered,
        }
    )
    data: dict[str, Any] = {
        "name": f"t-{dataflow}-{rows}x{cols}-{precision}",
        "clock_ghz": 1.0,
        "technology_nm": 45,
        "compute": {
            "rows": rows,
            "cols": cols,
            "dataflow": dataflow,
            "macs_per_pe_per_cycle": mpc,
            "precision": precision,
            "vector_lanes": 16,
            "sparsity": sparsity or {},
            **(compute_extra or {}),
        },
        "memory": {
            "levels": levels,
            "dram": {"kind": "hbm3", "bandwidth_gb_per_s": dram_gbps, "efficiency": 1.0, "latency_ns": 0.0},
        },
    }
    data.update(top)
    return ArchSpec.model_validate(data)


def one(op: Op, steps: int = 1, stats: dict[str, list[float]] | None = None) -> Workload:
    """A workload of one op; ``stats`` gives one value per step for each named statistic."""
    table = {k: tuple((v,) for v in vals) for k, vals in (stats or {}).items()}
    return Workload(ops=(op,), steps=steps, stats=table)


def gemm(m: int, n: int, k: int, batch: int = 1) -> Op:
    return gemm_op(GemmLayer(type="gemm", name="g", M=m, N=n, K=k, batch=batch))


def conv(c: int, h: int, w: int, k: int, r: int = 3, s: int = 3, stride: int = 1, padding: int = 1, n: int = 1) -> Op:
    return conv_op(ConvLayer(type="conv", name="c", N=n, C=c, H=h, W=w, K=k, R=r, S=s, stride=stride, padding=padding))


def attention(batch: int, lq: int, lk: int, d: int) -> Op:
    return attention_op(AttentionLayer(type="attention", name="a", batch=batch, Lq=lq, Lk=lk, d=d))


def conv3x3_op(size: int, name: str = "conv", **params: Any) -> Op:
    """A raw 3x3 convolution op of 8 -> 16 channels on a ``size`` x ``size`` input with a 4x4 output
    and the given ``params`` (stride, padding, ... as a tracer writes them; nothing derived)."""
    return Op(
        name=name,
        kind="conv",
        gemm=(1, 16, 16, 72),
        macs=16 * 16 * 72,
        flops=2 * 16 * 16 * 72,
        input_shapes=((1, 8, size, size), (16, 8, 3, 3)),
        output_shape=(1, 16, 4, 4),
        params={"kernel": [3, 3], **params},
    )


def gemm_dims(m: float, n: float, k: float) -> Any:
    """The one-level model's ``Dims`` of a plain GEMM row (no convolution geometry, not fused),
    one batch item."""
    import numpy as np

    from simulator.cost.gemm import Dims
    from simulator.optable import ConvGeometry

    one = np.ones(())
    geo = ConvGeometry(np.array(False), one, one, one, one, one, one, one)
    return Dims(
        batch=one,
        m=np.asarray(m),
        n=np.asarray(n),
        k=np.asarray(k),
        a_unique=np.asarray(m * k),
        geo=geo,
        fused=np.array(False),
        n2=np.zeros(()),
    )


def without_mapping(text: str) -> str:
    """A spec's YAML ``text`` without its top-level ``mapping`` section, which must be the last
    section (only indented or comment lines after it), so that dropping it drops nothing else."""
    head, sep, tail = text.partition("\nmapping:\n")
    assert sep, "no top-level mapping section"
    stray = [ln for ln in tail.splitlines() if ln and not ln.startswith((" ", "#"))]
    assert not stray, f"mapping is not the last section: {stray[0]!r} follows it"
    return head + "\n"
