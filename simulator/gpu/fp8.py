"""The fp8 path as ``picojoule gpu measure --dtype fp8`` runs it, as a workload transform.

``models.gpu.fp8.convert_to_fp8`` swaps eligible linear layers and 1×1 convolutions for
``aten._scaled_mm`` on fp8 operands with the dynamic quantisation of their activations; here the
same swap is applied to a traced workload, so the GPU model (:mod:`simulator.gpu.model`) can cost
an fp8 point that was never measured (docs/gpu.md, "The GPU at its best").
"""

from __future__ import annotations

from dataclasses import replace

from models.workload import Op, Workload
from simulator.gpu.model import DTYPE_BYTES, is_mixed_fp8

#: cuBLASLt fp8 GEMMs need K and N divisible by 16 (``models.gpu.fp8.FP8_ALIGN``).
FP8_ALIGN = 16


def _fp8_eligible(op: Op) -> bool:
    """What ``models.gpu.fp8.convert_to_fp8`` swaps: a linear layer or an unstrided, ungrouped
    1×1 convolution with a trained weight, K and N multiples of 16."""
    if not op.weight_is_param or op.gemm is None or op.gemm[0] != 1:
        return False
    _, _, n, k = op.gemm
    if n % FP8_ALIGN or k % FP8_ALIGN:
        return False
    if op.kind == "gemm":
        return True
    prm = op.params
    pad = prm.get("padding", [0])
    return (
        op.kind == "conv" and list(prm.get("kernel", [])) == [1, 1] and not prm.get("transposed")
        and all(int(v) == 1 for v in op.conv_stride) and all(int(v) == 0 for v in pad)
    )  # fmt: skip


def _vec(name: str, kind: str, elems: int, in_b: int, out_b: int, module: str) -> Op:
    return Op(name=name, kind=kind, module=module, dtype="bfloat16", flops=elems if kind != "data" else 0,
              act_bytes=elems * in_b, out_bytes=elems * out_b, output_shape=(elems,))  # fmt: skip


def fp8_torch_path(workload: Workload) -> Workload:
    """``workload`` (any traced dtype) as ``picojoule gpu measure --dtype fp8`` runs it.

    Every eligible GEMM (:func:`_fp8_eligible`) becomes ``aten._scaled_mm`` on fp8 operands with
    a bf16 output, preceded by the dynamic quantisation of its activation (``models.gpu.fp8
    .quantize``: amax, scale, divide, cast; a 1×1 convolution adds its NHWC copy in and NCHW copy
    out); every other op runs in bf16. The result is a mixed workload (:func:`is_mixed_fp8`):
    evaluated at ``precision="fp8"`` only its ``_scaled_mm`` GEMMs run at the fp8 peak.
    Statistics are dropped (the op list changes; the GPU model reads none)."""
    if is_mixed_fp8(workload):
        return workload
    ops: list[Op] = []
    for op in workload.ops:
        traced = DTYPE_BYTES.get(op.dtype.removeprefix("torch."))
        to_bf16 = 1.0 if traced is None else 2.0 / traced
        if not _fp8_eligible(op):
            ops.append(replace(op, dtype="bfloat16" if traced else op.dtype,
                               act_bytes=round(op.act_bytes * to_bf16), weight_bytes=round(op.weight_bytes * to_bf16),
                               out_bytes=round(op.out_bytes * to_bf16)))  # fmt: skip
            continue
        _, m, n, k = op.gemm or (1, 0, 0, 0)
        x, mod = m * k, op.module
        ops += [
            _vec("aten.linalg_vector_norm.default", "reduction", x, 2, 0, mod),
            _vec("aten.div.Tensor", "elementwise", 1, 4, 4, mod),
            _vec("aten.div.Tensor", "elementwise", x, 2, 2, mod),
            _vec("aten._to_copy.default", "elementwise", x, 2, 1, mod),
        ]
        if op.kind == "conv":
            ops.append(_vec("aten.clone.default", "data", x, 1, 1, mod))
        ops.append(replace(op, name="aten._scaled_mm.default", kind="gemm", dtype="bfloat16", act_bytes=x,
                           weight_bytes=round(op.weight_bytes / (traced or 4)), out_bytes=2 * m * n,
                           input_shapes=((m, k), (k, n)), output_shape=(m, n), params={}))  # fmt: skip
        if op.kind == "conv":
            ops.append(_vec("aten.clone.default", "data", m * n, 2, 2, mod))
    return Workload(ops=tuple(ops), steps=workload.steps, provenance={**workload.provenance, "fp8": "torch path"})
