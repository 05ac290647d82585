"""Workload ops (``models.workload.Op``) as loop nests: the bridge the evaluation will use."""

from __future__ import annotations

from accelerator.spec import ConvView
from models.workload import Op
from simulator.cost.nest.problem import Problem, attention, conv, gemm


def problems(op: Op, conv_view: ConvView = "window") -> tuple[Problem, ...]:
    """The nests of ``op``: one for a convolution or GEMM, two for attention, none otherwise.

    With ``conv_view`` ``window`` a convolution keeps its seven dimensions (padding is taken as
    part of the input, so ``P, Q`` are the output's size); a transposed convolution and any op
    without shapes fall back to its GEMM view ``(batch, m, n, k)``. With ``im2col``
    (``mapping.conv_view``) every convolution is its GEMM view, as an im2col array runs it:
    ``M = N·P·Q`` output pixels, ``N = K/groups`` filters, ``K = C/groups·R·S`` the flattened
    window, one copy per group; the input is the expanded ``M×K`` matrix, so its footprint and
    traffic are that matrix's (each input pixel once per window position that reads it)."""
    prm = op.params or {}
    window = conv_view == "window" and not prm.get("transposed")
    if op.kind == "conv" and window and len(op.output_shape) == 4 and len(op.input_shapes) >= 2:
        n, k, p, q = op.output_shape
        c = op.input_shapes[0][1]
        r, s = prm.get("kernel", op.input_shapes[1][2:])
        return (
            conv(
                op.name,
                n=n,
                k=k,
                c=c,
                p=p,
                q=q,
                r=r,
                s=s,
                stride=op.conv_stride,  # type: ignore[arg-type]
                dilation=op.conv_dilation,  # type: ignore[arg-type]
                groups=int(prm.get("groups", 1)),
            ),
        )
    if op.kind == "attention" and op.gemm is not None:
        b, lq, lk, d = op.gemm
        return attention(op.name, batch_heads=b, lq=lq, lk=lk, d=d)
    if op.kind in ("gemm", "conv") and op.gemm is not None:
        b, m, n, k = op.gemm
        return (gemm(op.name, m, n, k, batch=b),)
    return ()
