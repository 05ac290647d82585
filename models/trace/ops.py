"""Classify one executed aten op into an :data:`~models.workload.OP_KINDS` kind and cost it.

Costs follow ``torch.utils.flop_counter`` where it has rules: a convolution or matmul costs
2 FLOPs per multiply-accumulate (MAC) and its fused bias add is not counted. Attention is
counted here, explicitly, because ``flop_counter`` has no rule for the CPU flash-attention op
(``aten._scaled_dot_product_flash_attention_for_cpu``): QKᵀ and A·V are both MACs, and the
softmax over the scores costs :data:`SOFTMAX_FLOPS_PER_ELEMENT` per score.

``aten._scaled_mm`` (fp8 GEMM) is a GEMM like ``mm``; a cast to an fp8 type (``_to_copy``
with an fp8 ``dtype``) is a quantisation, costed as elementwise (1 FLOP per element), while
other casts are data movement.

Ops without MACs are costed per element (an approximation, documented in
``docs/tracing.md``): pointwise ops 1 FLOP per output element, norms
:data:`NORM_FLOPS_PER_ELEMENT`, softmax :data:`SOFTMAX_FLOPS_PER_ELEMENT`, reductions and
pools 1 FLOP per input element, data movement 0. Ops that match no rule are kind ``other``
and are listed in the workload's ``unsupported`` — never silently costed as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: FLOPs per element of a normalisation: mean (1), variance (3), normalise (2), affine (2)
#: minus the shared subtraction; an approximation, not a measured count.
NORM_FLOPS_PER_ELEMENT = 7
#: FLOPs per softmax element: max, subtract, exp, sum, divide.
SOFTMAX_FLOPS_PER_ELEMENT = 5

CONV_OPS = frozenset({"convolution", "_convolution", "convolution_overrideable", "mkldnn_convolution"})
#: ``_scaled_mm`` is the fp8 GEMM (fp8 operands, per-tensor or per-row scales, bf16 output).
GEMM_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm", "_addmm_activation", "_scaled_mm"})
#: Element types whose casts are quantisations (round and saturate): costed as elementwise.
FP8_DTYPES = frozenset(
    getattr(torch, n)
    for n in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")
    if hasattr(torch, n)
)
ATTENTION_OPS = frozenset(
    {
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
        "_scaled_dot_product_attention_math",
    }
)
NORM_OPS = frozenset(
    {
        "native_group_norm",
        "native_layer_norm",
        "native_batch_norm",
        "_native_batch_norm_legit",
        "_native_batch_norm_legit_no_training",
        "_fused_rms_norm",
        "rms_norm",
    }
)
SOFTMAX_OPS = frozenset({"_softmax", "softmax", "_log_softmax", "log_softmax", "_safe_softmax"})
POOL_OPS = frozenset(
    {
        "avg_pool2d",
        "max_pool2d",
        "max_pool2d_with_indices",
        "adaptive_avg_pool2d",
        "_adaptive_avg_pool2d",
        "avg_pool1d",
        "avg_pool3d",
    }
)
RESAMPLE_OPS = frozenset(
    {
        "upsample_nearest1d",
        "upsample_nearest2d",
        "upsample_nearest3d",
        "_upsample_nearest_exact2d",
        "upsample_bilinear2d",
        "_upsample_bilinear2d_aa",
        "upsample_bicubic2d",
        "grid_sampler_2d",
    }
)
#: FLOPs per output element of a resample: bilinear blends 4 neighbours (≈ 4 mult + 3 add).
RESAMPLE_FLOPS_PER_ELEMENT = {
    "upsample_bilinear2d": 7,
    "_upsample_bilinear2d_aa": 7,
    "upsample_bicubic2d": 31,
}
DATA_OPS = frozenset(
    {
        "cat",
        "stack",
        "clone",
        "copy_",
        "_to_copy",
        "arange",
        "empty",
        "empty_like",
        "empty_strided",
        "new_empty",
        "new_empty_strided",
        "zeros",
        "zeros_like",
        "new_zeros",
        "ones",
        "ones_like",
        "new_ones",
        "full",
        "full_like",
        "fill_",
        "zero_",
        "constant_pad_nd",
        "reflection_pad2d",
        "replication_pad2d",
        "index",
        "index_select",
        "gather",
        "scatter",
        "embedding",
        "repeat",
        "repeat_interleave",
        "expand_copy",
        "slice_scatter",
        "select_scatter",
        "flip",
        "roll",
        "pixel_shuffle",
        "pixel_unshuffle",
        "lift_fresh_copy",
        "_local_scalar_dense",
        "masked_fill",
        "split_with_sizes_copy",
        "normal_",
        "randn",
        "rand",
        "randn_like",
        "bernoulli_",
        "scalar_tensor",
        "_assert_tensor_metadata",
    }
)
#: Ops that only re-describe memory (the recorder skips them); ``func.is_view`` catches the rest.
VIEW_OPS = frozenset({"_unsafe_view", "alias", "detach", "_reshape_alias", "lift_fresh"})


def packet_name(func: Any) -> str:
    """``aten.convolution.default`` → ``convolution``."""
    return str(func._overloadpacket.__name__)


def is_view(func: Any) -> bool:
    """View ops move no data and cost nothing: the recorder skips them."""
    return bool(getattr(func, "is_view", False)) or packet_name(func) in VIEW_OPS


def classify(func: Any) -> str:
    """The :data:`OP_KINDS` kind of an aten op overload."""
    name = packet_name(func)
    if name in CONV_OPS:
        return "conv"
    if name in GEMM_OPS:
        return "gemm"
    if name in ATTENTION_OPS:
        return "attention"
    if name in NORM_OPS:
        return "norm"
    if name in SOFTMAX_OPS:
        return "softmax"
    if name in POOL_OPS:
        return "pool"
    if name in RESAMPLE_OPS:
        return "resample"
    if name in DATA_OPS:
        return "data"
    tags = getattr(func, "tags", ())
    if torch.Tag.pointwise in tags:
        return "elementwise"
    if getattr(torch.Tag, "reduction", None) in tags:
        return "reduction"
    return "other"


@dataclass(frozen=True)
class OpCost:
    """What an op computes: GEMM view, MACs, FLOPs, and serialisable parameters."""

    kind: str
    gemm: tuple[int, int, int, int] | None
    macs: int
    flops: int
    params: dict[str, Any]
    act_operand: int | None  # index into args of the activation (first GEMM) operand, if any


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 1


def _arg(args: Sequence[Any], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _ints(value: Any, n: int) -> list[int]:
    if isinstance(value, int):
        return [value] * n
    return [int(v) for v in value]


def _conv_cost(args: Sequence[Any], kwargs: dict[str, Any], out_shape: Sequence[int]) -> OpCost:
    x, w = args[0], args[1]
    spatial = x.dim() - 2
    stride = _ints(_arg(args, kwargs, 3, "stride", 1), spatial)
    padding = _ints(_arg(args, kwargs, 4, "padding", 0), spatial)
    dilation = _ints(_arg(args, kwargs, 5, "dilation", 1), spatial)
    transposed = bool(_arg(args, kwargs, 6, "transposed", False))
    groups = int(_arg(args, kwargs, 8, "groups", 1))
    kernel = list(w.shape[2:])
    n = int(x.shape[0])
    if transposed:
        # weight [C_in, K_out/g, *kernel]: every input pixel scatters into a kernel window.
        c_in = int(w.shape[0])
        m = n * _numel(x.shape[2:])
        gn = int(w.shape[1]) * _numel(kernel)
        gk = c_in // groups
    else:
        # weight [K_out, C_in/g, *kernel]: im2col GEMM, one row per output pixel.
        m = n * _numel(out_shape[2:])
        gn = int(w.shape[0]) // groups
        gk = int(w.shape[1]) * _numel(kernel)
    macs = groups * m * gn * gk
    params = {
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "transposed": transposed,
        "kernel": kernel,
    }
    return OpCost("conv", (groups, m, gn, gk), macs, 2 * macs, params, 0)


def _gemm_cost(name: str, args: Sequence[Any]) -> OpCost:
    if name in ("addmm", "baddbmm", "_addmm_activation"):
        a, b = args[1], args[2]
    else:
        a, b = args[0], args[1]
    act_index = 1 if name in ("addmm", "baddbmm", "_addmm_activation") else 0
    if a.dim() == 2:
        batch, m, k = 1, int(a.shape[0]), int(a.shape[1])
    else:
        batch, m, k = int(a.shape[0]), int(a.shape[1]), int(a.shape[2])
    n = int(b.shape[-1])
    macs = batch * m * n * k
    return OpCost("gemm", (batch, m, n, k), macs, 2 * macs, {}, act_index)


def _attention_cost(args: Sequence[Any], kwargs: dict[str, Any]) -> OpCost:
    q, k, v = args[0], args[1], args[2]
    heads_batch = _numel(q.shape[:-2])
    lq, d = int(q.shape[-2]), int(q.shape[-1])
    lk, dv = int(k.shape[-2]), int(v.shape[-1])
    scores = heads_batch * lq * lk
    macs = scores * (d + dv)
    is_causal = bool(_arg(args, kwargs, 4, "is_causal", False))
    params = {
        "heads": int(q.shape[1]) if q.dim() == 4 else 1,
        "q_len": lq,
        "kv_len": lk,
        "head_dim": d,
        "value_dim": dv,
        "is_causal": is_causal,
        "gemm2": [heads_batch, lq, dv, lk],  # A·V, beside the QKᵀ view in ``gemm``
        "softmax_elements": scores,
    }
    flops = 2 * macs + SOFTMAX_FLOPS_PER_ELEMENT * scores
    return OpCost("attention", (heads_batch, lq, lk, d), macs, flops, params, 0)


def cost(
    func: Any,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    in_numels: Sequence[int],
    out_shape: Sequence[int],
) -> OpCost:
    """Cost one op; ``in_numels`` are the element counts of its tensor inputs."""
    kind = classify(func)
    name = packet_name(func)
    out_elems = _numel(out_shape) if out_shape else 0
    if name == "_to_copy" and kwargs.get("dtype") in FP8_DTYPES:
        return OpCost("elementwise", None, 0, out_elems, {"quantize": str(kwargs["dtype"])}, None)
    if kind == "conv":
        return _conv_cost(args, kwargs, out_shape)
    if kind == "gemm":
        return _gemm_cost(name, args)
    if kind == "attention":
        return _attention_cost(args, kwargs)
    if kind == "elementwise":
        return OpCost(kind, None, 0, out_elems, {}, None)
    if kind == "norm":
        return OpCost(kind, None, 0, NORM_FLOPS_PER_ELEMENT * (in_numels[0] if in_numels else 0), {}, None)
    if kind == "softmax":
        return OpCost(kind, None, 0, SOFTMAX_FLOPS_PER_ELEMENT * out_elems, {}, None)
    if kind in ("reduction", "pool"):
        return OpCost(kind, None, 0, in_numels[0] if in_numels else 0, {}, None)
    if kind == "resample":
        return OpCost(kind, None, 0, RESAMPLE_FLOPS_PER_ELEMENT.get(name, 0) * out_elems, {}, None)
    return OpCost(kind, None, 0, 0, {}, None)
