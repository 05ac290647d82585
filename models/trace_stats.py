"""Value statistics of op operands: zeros, near-zeros, zero blocks, ranges, temporal deltas.

All functions take torch tensors and return plain floats; the definitions (the contract the
numpy tests check) are in ``docs/workload-format.md``:

- near zero: ``|x| <= max(abs_tol, rel_tol * max|x|)`` per tensor;
- zero blocks: the operand as a matrix ``[rows, k]`` with ``k`` the reduction dim (last dim of
  a GEMM activation, the channel dim of a convolution input at each pixel, the head dim of a
  query); a ``r×c`` block is ``r`` consecutive rows by ``c`` consecutive ``k``; only whole
  blocks count (the remainder is dropped);
- temporal delta between consecutive steps of the same op: both steps quantised with a
  shared symmetric scale ``s = max(absmax_prev, absmax_cur) / qmax`` (qmax 127 for int8, 7
  for int4), ``d = round(x_cur / s) - round(x_prev / s)``; bits needed for an int8 delta are
  0 when ``d = 0`` else ``floor(log2|d|) + 2`` (sign included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StatsConfig:
    """Thresholds and sizes of the recorded statistics."""

    #: relative near-zero threshold: 1/256 of max|x| rounds to 0 in per-tensor int8.
    near_zero_rel_tol: float = 1.0 / 256.0
    #: absolute near-zero threshold, in the tensor's own units.
    near_zero_abs_tol: float = 1e-6
    #: at most this many elements per op are kept between steps for deltas (strided subsample).
    delta_max_elements: int = 262_144

    def as_dict(self) -> dict[str, float | int]:
        return {
            "near_zero_rel_tol": self.near_zero_rel_tol,
            "near_zero_abs_tol": self.near_zero_abs_tol,
            "delta_max_elements": self.delta_max_elements,
        }


@dataclass(frozen=True)
class ZeroCounts:
    """Exact and near zeros of one or more tensors, and their max |x|."""

    zeros: int
    near_zeros: int
    elements: int
    absmax: float

    def __add__(self, other: ZeroCounts) -> ZeroCounts:
        return ZeroCounts(
            self.zeros + other.zeros,
            self.near_zeros + other.near_zeros,
            self.elements + other.elements,
            max(self.absmax, other.absmax),
        )

    @property
    def zero_frac(self) -> float | None:
        return self.zeros / self.elements if self.elements else None

    @property
    def near_zero_frac(self) -> float | None:
        return self.near_zeros / self.elements if self.elements else None


EMPTY_COUNTS = ZeroCounts(0, 0, 0, 0.0)


def zero_counts(t: torch.Tensor, cfg: StatsConfig) -> ZeroCounts:
    """Exact zeros, near zeros and max |x| of one tensor."""
    n = t.numel()
    if n == 0:
        return EMPTY_COUNTS
    a = t.detach().abs()
    absmax = float(a.max())
    if not math.isfinite(absmax):
        a = torch.nan_to_num(a, nan=0.0, posinf=0.0)
        absmax = float(a.max())
    tol = max(cfg.near_zero_abs_tol, cfg.near_zero_rel_tol * absmax)
    zeros = n - int(torch.count_nonzero(a))
    near = int(torch.count_nonzero(a <= tol))
    return ZeroCounts(zeros, near, n, absmax)


def reduction_matrix(t: torch.Tensor, kind: str) -> torch.Tensor | None:
    """The operand as ``[rows, k]`` with the reduction dim last, or ``None`` if meaningless."""
    if t.dim() < 2:
        return None
    if kind == "conv":
        # [N, C, *spatial] -> [N * pixels, C]: channels are what a convolution reduces over.
        return t.detach().movedim(1, -1).reshape(-1, t.shape[1])
    return t.detach().reshape(-1, t.shape[-1])


def block_zero_frac(mat: torch.Tensor, rows: int, cols: int) -> float | None:
    """Fraction of all-zero ``rows×cols`` blocks of ``mat``; whole blocks only."""
    r_all, k_all = mat.shape
    r, k = (r_all // rows) * rows, (k_all // cols) * cols
    if r == 0 or k == 0:
        return None
    zero = mat[:r, :k] == 0
    blocks = zero.reshape(r // rows, rows, k // cols, cols).all(dim=3).all(dim=1)
    return int(torch.count_nonzero(blocks)) / blocks.numel()


def channel_absmax_ratio(mat: torch.Tensor) -> float | None:
    """max / median of the per-channel (column) max |x|: how much per-channel scaling helps."""
    if mat.shape[1] < 2:
        return None
    per_channel = mat.abs().amax(dim=0).float()
    median = float(torch.quantile(per_channel, 0.5))  # numpy's median: mean of the middle two
    if median == 0.0:
        return None
    return float(per_channel.max()) / median


def subsample(t: torch.Tensor, max_elements: int) -> torch.Tensor:
    """A float32 copy of at most ``max_elements`` elements, strided evenly over ``t``."""
    flat = t.detach().reshape(-1)
    n = flat.numel()
    if n > max_elements:
        stride = -(-n // max_elements)
        flat = flat[::stride]
    return flat.to(torch.float32, copy=True)


def _quantise(x: torch.Tensor, scale: float, qmax: int) -> torch.Tensor:
    return torch.round(x / scale).clamp_(-qmax, qmax)


def delta_stats(
    prev: torch.Tensor, prev_absmax: float, cur: torch.Tensor, cur_absmax: float
) -> dict[str, float]:
    """Temporal-delta statistics of two same-shaped samples of one op at adjacent steps."""
    absmax = max(prev_absmax, cur_absmax)
    if absmax == 0.0 or not math.isfinite(absmax) or prev.numel() == 0:
        ones = {
            k: 1.0
            for k in (
                "delta_int8_zero_frac",
                "delta_int4_zero_frac",
                "delta_bits_le2_frac",
                "delta_bits_le4_frac",
                "delta_bits_le6_frac",
            )
        }
        return {**ones, "delta_bits_mean": 0.0}
    s8 = absmax / 127.0
    d8 = (_quantise(cur, s8, 127) - _quantise(prev, s8, 127)).abs_()
    s4 = absmax / 7.0
    d4 = _quantise(cur, s4, 7) - _quantise(prev, s4, 7)
    n = d8.numel()
    nonzero = int(torch.count_nonzero(d8))
    bits = torch.floor(torch.log2(d8.clamp(min=1.0))) + 2.0
    bits_sum = float(bits.sum()) - 2.0 * (n - nonzero)  # zero deltas need 0 bits, not 2

    def frac_le(limit: float) -> float:
        return int(torch.count_nonzero(d8 <= limit)) / n

    return {
        "delta_int8_zero_frac": (n - nonzero) / n,
        "delta_int4_zero_frac": (n - int(torch.count_nonzero(d4))) / n,
        "delta_bits_mean": bits_sum / n,
        "delta_bits_le2_frac": frac_le(1),
        "delta_bits_le4_frac": frac_le(7),
        "delta_bits_le6_frac": frac_le(31),
    }
