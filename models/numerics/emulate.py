"""The emulation mode: a ``TorchDispatchMode`` that runs a model's GEMMs with a design's numerics.

Inside :class:`NumericsMode` every convolution, linear/matmul and scaled-dot-product attention
of a real model runs with the formats, thresholds and temporal deltas of a resolved
:class:`~accelerator.numerics.NumericsSpec`; everything else (norms, softmax, activations
functions, the scheduler) stays fp32, as on an array with an fp32 vector unit.

- Weights (tensors that are the model's parameters) are quantised once per run and cached.
- Activations get static per-tensor scales from a calibration table keyed by
  ``"<op index>.<operand>"`` (op index = order of the intercepted op in one model call), or the
  live range (``calibration: dynamic``, per_block).
- Integer operands with per-tensor/per-channel scales and an integer accumulator are multiplied
  as integer codes in float64 (exact below 2^53), saturated to the accumulator, then scaled:
  bit-exact to an integer MAC array. Other combinations multiply dequantised values in fp32 and
  round the finished sum to the accumulator format.
- Temporal deltas (weighted ops only): each op keeps the input it reconstructed at the previous
  step, ``x̂``; by linearity ``y_prev + W·Δq = W·x̂`` with ``x̂ = x̂_prev + Δq``, so the op runs
  on ``x̂``. With integer per-tensor activations the delta is the difference of integer codes
  (Ditto, HPCA 2025), clipped to the delta format; otherwise ``Δ = x - x̂_prev`` is quantised to
  the ``deltas`` format.

The mode and its :class:`EmulationState` are created per run and passed explicitly; the state
and the operand quantisers live in :mod:`models.numerics.operands`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from accelerator.numerics import INT_QMAX, NumericsSpec
from models.numerics.operands import EmulationState, Operand, activation_operand, is_param, weight_operand
from models.numerics.quant import cast, saturate_int

aten = torch.ops.aten


class NumericsMode(TorchDispatchMode):
    """Intercepts GEMM-like aten ops; see the module docstring."""

    def __init__(self, state: EmulationState) -> None:
        super().__init__()
        self.state = state

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        if handler is None or not _float_inputs(args):
            return func(*args, **kwargs)
        key = str(self.state.op_index)
        self.state.op_index += 1
        return handler(self.state, key, func, list(args), dict(kwargs))


def _float_inputs(args: tuple[Any, ...]) -> bool:
    tensors = [a for a in args[:3] if isinstance(a, torch.Tensor)]
    return bool(tensors) and all(t.dtype == torch.float32 for t in tensors)


# ----------------------------------------------------------------------------- products


def _accumulate_float(state: EmulationState, out: torch.Tensor) -> torch.Tensor:
    acc = str(state.numerics.accumulators.format)
    return cast(out, acc) if acc in ("fp16", "bf16") else out


def _act_identity(n: NumericsSpec) -> bool:
    """Activations and accumulators are left as they are: call the reference kernel."""
    z = n.zero_skip
    return (
        n.activations.format == "fp32"
        and n.accumulators.format == "fp32"
        and z.act_threshold == 0
        and z.act_threshold_rel == 0
    )


def _weighted(
    state: EmulationState,
    a: Operand,
    w: Operand,
    product: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    out_channel_shape: Callable[[torch.Tensor], torch.Tensor],
    bias_shape: Callable[[torch.Tensor], torch.Tensor],
    bias: torch.Tensor | None,
    reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """The op on quantised operands with the accumulator of the numerics.

    ``product(a, w)`` is the op without bias, ``reference(a, w)`` the original kernel with its
    bias (used on the floating-point path, so fp32 numerics give the reference bits).
    """
    acc = str(state.numerics.accumulators.format)
    if acc in INT_QMAX and a.codes is not None and w.codes is not None and a.codes.scale.ndim == 0:
        total = saturate_int(product(a.codes.codes.double(), w.codes.codes.double()), acc)
        scale = a.codes.scale.double() * out_channel_shape(w.codes.scale.double())
        out = (total * scale).float()
        return out if bias is None else out + bias_shape(bias)
    return _accumulate_float(state, reference(a.values, w.values))


def _conv(state: EmulationState, key: str, func: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    x, w = args[0], args[1]
    bias = args[2] if len(args) > 2 else kwargs.pop("bias", None)
    rest = args[3:]
    transposed = func is aten.convolution.default and bool(args[6])
    if not is_param(state, w):
        return func(*args, **kwargs)
    wop = weight_operand(state, w, channel_axis=1 if transposed else 0, reduce_axis=0 if transposed else 1)
    aop = activation_operand(state, key + ".x", x, reduce_axis=1, delta_ok=True)

    def per_channel(s: torch.Tensor) -> torch.Tensor:
        return s.reshape(1, -1, *([1] * (x.ndim - 2))) if s.ndim else s

    return _weighted(
        state,
        aop,
        wop,
        lambda a, b: func(a, b, None, *rest, **kwargs),
        per_channel,
        per_channel,
        bias,
        lambda a, b: func(a, b, bias, *rest, **kwargs),
    )


def _linear(state: EmulationState, key: str, func: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    x, w = args[0], args[1]
    bias = args[2] if len(args) > 2 else kwargs.pop("bias", None)
    if not is_param(state, w):
        return func(*args, **kwargs)
    wop = weight_operand(state, w, channel_axis=0, reduce_axis=1)
    aop = activation_operand(state, key + ".x", x, reduce_axis=-1, delta_ok=True)

    def last(s: torch.Tensor) -> torch.Tensor:
        return s.reshape(-1) if s.ndim else s

    return _weighted(
        state,
        aop,
        wop,
        lambda a, b: func(a, b),
        last,
        lambda b: b,
        bias,
        lambda a, b: func(a, b, bias),
    )


def _mm(state: EmulationState, key: str, func: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """mm / addmm / bmm / baddbmm: a weight second operand is a linear layer, else act x act."""
    has_bias = func in (aten.addmm.default, aten.baddbmm.default)
    if has_bias and (kwargs.get("beta", 1) != 1 or kwargs.get("alpha", 1) != 1):
        return func(*args, **kwargs)
    bias = args[0] if has_bias else None
    a, b = (args[1], args[2]) if has_bias else (args[0], args[1])

    def reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return func(bias, x, y, **kwargs) if has_bias else func(x, y, **kwargs)

    if is_param(state, b) and b.ndim == 2:
        wop = weight_operand(state, b, channel_axis=1, reduce_axis=0)
        aop = activation_operand(state, key + ".x", a, reduce_axis=-1, delta_ok=True)

        def cols(s: torch.Tensor) -> torch.Tensor:
            return s.reshape(1, -1) if s.ndim else s

        return _weighted(state, aop, wop, torch.matmul, cols, lambda t: t, bias, reference)
    if not state.numerics.quantise_attention or _act_identity(state.numerics):
        return func(*args, **kwargs)
    qa = activation_operand(state, key + ".a", a, reduce_axis=-1, delta_ok=False).values
    qb = activation_operand(state, key + ".b", b, reduce_axis=-2, delta_ok=False).values
    return _accumulate_float(state, reference(qa, qb))


def _sdpa_args(func: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, float, bool, Any, bool]:
    """(mask, dropout_p, is_causal, scale, enable_gqa) of either SDPA signature."""

    def arg(i: int, name: str, default: Any) -> Any:
        return args[i] if len(args) > i else kwargs.get(name, default)

    if func is aten.scaled_dot_product_attention.default:
        return (
            arg(3, "attn_mask", None),
            arg(4, "dropout_p", 0.0),
            bool(arg(5, "is_causal", False)),
            arg(6, "scale", None),
            bool(arg(7, "enable_gqa", False)),
        )
    return (
        kwargs.get("attn_mask"),
        arg(3, "dropout_p", 0.0),
        bool(arg(4, "is_causal", False)),
        kwargs.get("scale"),
        False,
    )


def _sdpa(state: EmulationState, key: str, func: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Scaled dot-product attention as QK^T, softmax (fp32), PV with quantised operands."""
    q, k, v = args[0], args[1], args[2]
    mask, dropout_p, causal, scale, gqa = _sdpa_args(func, args, kwargs)
    n = state.numerics
    if not n.quantise_attention or gqa or dropout_p or (_act_identity(n) and not state.calibrating):
        return func(*args, **kwargs)
    s = float(scale) if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    qq = activation_operand(state, key + ".q", q, reduce_axis=-1, delta_ok=False).values
    kq = activation_operand(state, key + ".k", k, reduce_axis=-1, delta_ok=False).values
    scores = _accumulate_float(state, torch.matmul(qq, kq.transpose(-2, -1))) * s
    if causal:
        keep = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    p = torch.softmax(scores, dim=-1)
    pq = activation_operand(state, key + ".p", p, reduce_axis=-1, delta_ok=False).values
    vq = activation_operand(state, key + ".v", v, reduce_axis=-2, delta_ok=False).values
    out = _accumulate_float(state, torch.matmul(pq, vq))
    if func is aten.scaled_dot_product_attention.default:
        return out
    ref = func(*args, **kwargs)  # backend ops return (out, logsumexp, ...): keep the extras
    return (out, *ref[1:])


_HANDLERS: dict[Any, Callable[[EmulationState, str, Any, list[Any], dict[str, Any]], Any]] = {
    aten.conv2d.default: _conv,
    aten.conv1d.default: _conv,
    aten.convolution.default: _conv,
    aten.linear.default: _linear,
    aten.mm.default: _mm,
    aten.addmm.default: _mm,
    aten.bmm.default: _mm,
    aten.baddbmm.default: _mm,
    aten.scaled_dot_product_attention.default: _sdpa,
    aten._scaled_dot_product_flash_attention_for_cpu.default: _sdpa,
}
