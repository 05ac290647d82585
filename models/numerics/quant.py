"""Bit-exact quantisers in torch for the formats of :mod:`accelerator.numerics`.

Every function is deterministic and elementwise given its scales: symmetric, round half to
even (``torch.round``), saturating. ``x / scale`` is a true division (not a multiply by the
reciprocal), so a hand computation with the same float32 scale gives the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from accelerator.numerics import FP8_EMAX, FP8_MAX, INT_FORMATS, INT_QMAX, SCALED_FORMATS, TensorFormat


def element_max(fmt: str) -> float:
    """Largest magnitude an element of ``fmt`` holds before scaling."""
    return float(INT_QMAX[fmt]) if fmt in INT_QMAX else FP8_MAX[fmt]


def _fp8_dtype(fmt: str) -> torch.dtype:
    return torch.float8_e4m3fn if fmt == "fp8_e4m3" else torch.float8_e5m2


def scale_from_amax(amax: torch.Tensor, fmt: str, shared_exponent: bool = False) -> torch.Tensor:
    """Scale (float32) that maps ``amax`` onto the format's largest element.

    Plain: ``amax / element_max``. Shared exponent (OCP MX v1.0 §5.3):
    ``2^(floor(log2 amax) - emax)`` with emax = N - 2 for intN (1.(N-2) fixed point elements,
    as MXINT8) and 8 / 15 for E4M3 / E5M2. A group whose amax is 0 gets scale 1.
    """
    amax = amax.to(torch.float32)
    if shared_exponent:
        emax = INT_QMAX[fmt].bit_length() - 1 if fmt in INT_FORMATS else FP8_EMAX[fmt]
        _, exp = torch.frexp(amax)  # amax = m * 2^exp, m in [0.5, 1): floor(log2 amax) = exp - 1
        scale = torch.ldexp(torch.ones_like(amax), (exp - 1 - emax).to(torch.float32))
    else:
        scale = amax / element_max(fmt)
    return torch.where(amax > 0, scale, torch.ones_like(scale))


def round_elements(y: torch.Tensor, fmt: str) -> torch.Tensor:
    """Values ``y`` (already divided by their scale) rounded to the elements of ``fmt``."""
    if fmt in INT_FORMATS:
        q = INT_QMAX[fmt]
        return torch.clamp(torch.round(y), -q, q)
    m = FP8_MAX[fmt]
    return torch.clamp(y, -m, m).to(_fp8_dtype(fmt)).to(y.dtype)


def cast(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """Round ``x`` to fp16 / bf16 (IEEE, nearest even) and back; fp32 returns ``x`` itself."""
    if fmt == "fp32":
        return x
    if fmt == "fp16":
        return x.to(torch.float16).to(x.dtype)
    if fmt == "bf16":
        return x.to(torch.bfloat16).to(x.dtype)
    raise ValueError(f"cast handles fp32/fp16/bf16, got {fmt!r}")


def threshold_zero(x: torch.Tensor, abs_thr: float, rel_thr: float) -> torch.Tensor:
    """``x`` with ``|x| <= max(abs_thr, rel_thr * max|x|)`` set to 0; ``x`` itself if both are 0."""
    if abs_thr <= 0 and rel_thr <= 0:
        return x
    limit = max(abs_thr, rel_thr * float(x.abs().max())) if x.numel() else abs_thr
    return torch.where(x.abs() <= limit, torch.zeros_like(x), x)


@dataclass(frozen=True)
class IntCodes:
    """An integer-quantised tensor: ``codes * scale`` (codes are integer-valued float32)."""

    codes: torch.Tensor
    scale: torch.Tensor  # broadcastable to codes (0-d for per_tensor)

    @property
    def values(self) -> torch.Tensor:
        return self.codes * self.scale


def _group_amax(x: torch.Tensor, granularity: str, channel_axis: int | None) -> torch.Tensor:
    if granularity == "per_tensor":
        return x.abs().max() if x.numel() else torch.zeros((), dtype=x.dtype)
    if channel_axis is None:
        raise ValueError("per_channel quantisation needs the channel axis")
    axis = channel_axis % x.ndim
    dims = [d for d in range(x.ndim) if d != axis]
    return x.abs().amax(dim=dims, keepdim=True)


def int_codes(
    x: torch.Tensor,
    fmt: TensorFormat,
    *,
    channel_axis: int | None = None,
    amax: float | None = None,
) -> IntCodes:
    """Per-tensor or per-channel integer codes of ``x``; ``amax`` fixes a static range."""
    f = str(fmt.format)
    if f not in INT_FORMATS or fmt.granularity == "per_block":
        raise ValueError(f"int_codes needs an int format per_tensor/per_channel, got {f} {fmt.granularity}")
    group = (
        torch.tensor(amax, dtype=torch.float32)
        if amax is not None
        else _group_amax(x, str(fmt.granularity), channel_axis)
    )
    scale = scale_from_amax(group, f, fmt.shared_exponent)
    return IntCodes(codes=round_elements(x / scale, f), scale=scale)


def _blocked(x: torch.Tensor, axis: int, block: int) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """``x`` as (..., blocks, block) along ``axis`` (zero-padded) and the inverse function."""
    moved = x.movedim(axis, -1)
    k = moved.shape[-1]
    pad = (-k) % block
    if pad:
        moved = torch.nn.functional.pad(moved, (0, pad))
    shape = moved.shape
    blocks = moved.reshape(*shape[:-1], shape[-1] // block, block)

    def restore(b: torch.Tensor) -> torch.Tensor:
        return b.reshape(shape)[..., :k].movedim(-1, axis)

    return blocks, restore


def fake_quantise(
    x: torch.Tensor,
    fmt: TensorFormat,
    *,
    channel_axis: int | None = None,
    reduce_axis: int = -1,
    amax: float | None = None,
) -> torch.Tensor:
    """``x`` rounded to ``fmt`` and returned in x's dtype (quantise, then dequantise).

    ``channel_axis`` is the output-channel axis (per_channel), ``reduce_axis`` the reduction axis
    blocks run along (per_block), ``amax`` a static per-tensor range from calibration. fp32
    returns ``x`` itself (the same object).
    """
    f = str(fmt.format)
    if f not in SCALED_FORMATS:
        return cast(x, f)
    if fmt.granularity == "per_block":
        blocks, restore = _blocked(x, reduce_axis % x.ndim, fmt.block_size)
        scale = scale_from_amax(blocks.abs().amax(dim=-1, keepdim=True), f, fmt.shared_exponent)
        return restore(round_elements(blocks / scale, f) * scale).to(x.dtype)
    if f in INT_FORMATS:
        return int_codes(x, fmt, channel_axis=channel_axis, amax=amax).values.to(x.dtype)
    group = (
        torch.tensor(amax, dtype=torch.float32)
        if amax is not None
        else _group_amax(x, str(fmt.granularity), channel_axis)
    )
    scale = scale_from_amax(group, f, fmt.shared_exponent)
    return (round_elements(x / scale, f) * scale).to(x.dtype)


def saturate_int(acc: torch.Tensor, fmt: str) -> torch.Tensor:
    """Integer accumulator values clamped to the signed range of ``fmt`` (int16 / int32)."""
    q = INT_QMAX[fmt]
    return torch.clamp(acc, -q, q)
