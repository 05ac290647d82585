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

from models.workload import ACT_BLOCK_SHAPES, block_stat_name

#: Zero-block shapes recorded (rows × reduction-dim columns): every shape the format knows.
BLOCKS = ACT_BLOCK_SHAPES


@dataclass(frozen=True)
class StatsConfig:
    """Thresholds and sizes of the recorded statistics."""

    #: relative near-zero threshold: 1/256 of max|x| rounds to 0 in per-tensor int8.
    near_zero_rel_tol: float = 1.0 / 256.0
    #: absolute near-zero threshold, in the tensor's own units.
    near_zero_abs_tol: float = 1e-6
    #: at most this many elements per op are kept between steps for temporal deltas
    #: (a subsample strided by an odd prime; about 256K elements per op keeps SD-1.5 in memory, docs/tracing.md).
    delta_max_elements: int = 262_144
    #: zero and near-zero fractions of larger activations are estimated on a subsample of
    #: about this many elements, strided by an odd prime (binomial standard error <= 0.2
    #: points at 65,536); weights, max |x| and zero blocks always use the whole tensor.
    zero_sample_elements: int = 65_536

    def as_dict(self) -> dict[str, float | int]:
        return {
            "near_zero_rel_tol": self.near_zero_rel_tol,
            "near_zero_abs_tol": self.near_zero_abs_tol,
            "delta_max_elements": self.delta_max_elements,
            "zero_sample_elements": self.zero_sample_elements,
        }


@dataclass(frozen=True)
class ZeroCounts:
    """Exact and near zeros of one or more tensors (estimated when sampled), and max |x|."""

    zeros: float
    near_zeros: float
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


EMPTY_COUNTS = ZeroCounts(0.0, 0.0, 0, 0.0)


def sample_stride(n: int, max_elements: int) -> int:
    """Stride that keeps at most ``max_elements`` of ``n``: 1, or an odd prime.

    A prime stride walks through every phase of a periodic layout (image rows, channel
    groups, padding borders) instead of aliasing with it: with stride 2 on a 32-wide image a
    zero border column would be seen in every other row only, or in every row.
    """
    k = -(-n // max_elements)
    if k <= 1:
        return 1
    candidate = max(3, k | 1)
    while any(candidate % d == 0 for d in range(3, math.isqrt(candidate) + 1, 2)):
        candidate += 2
    return candidate


def strided(t: torch.Tensor, max_elements: int) -> torch.Tensor:
    """``t`` flattened, and strided down to at most ``max_elements`` (see :func:`sample_stride`)."""
    flat = t.detach().reshape(-1)
    stride = sample_stride(flat.numel(), max_elements)
    return flat[::stride] if stride > 1 else flat


def absmax_of(t: torch.Tensor) -> float:
    """max |x| over the whole tensor (non-finite values ignored)."""
    if t.numel() == 0:
        return 0.0
    lo, hi = torch.aminmax(t.detach())
    value = max(-float(lo), float(hi))
    if not math.isfinite(value):
        finite = torch.nan_to_num(t.detach(), nan=0.0, posinf=0.0, neginf=0.0)
        value = float(finite.abs().max())
    return value


def zero_counts(t: torch.Tensor, cfg: StatsConfig, exact: bool = False) -> ZeroCounts:
    """Exact and near zeros and max |x| of one tensor; large ones are sampled unless ``exact``."""
    n = t.numel()
    if n == 0:
        return EMPTY_COUNTS
    peak = absmax_of(t)
    sample = t.detach().reshape(-1) if exact else strided(t, cfg.zero_sample_elements)
    m = sample.numel()
    tol = max(cfg.near_zero_abs_tol, cfg.near_zero_rel_tol * peak)
    zeros = m - int(torch.count_nonzero(sample))
    near = int(torch.count_nonzero(sample.abs() <= tol))
    return ZeroCounts(zeros * n / m, near * n / m, n, peak)


def reduction_matrix(t: torch.Tensor, reduce_dim: int) -> torch.Tensor | None:
    """The operand as ``[rows, k]`` with its reduction dim ``reduce_dim`` last.

    A convolution input ``[N, C, H, W]`` reduces over ``C`` (``reduce_dim=1``); a GEMM
    activation or an attention query over its last dim (``reduce_dim=-1``).
    """
    if t.dim() < 2:
        return None
    x = t.detach()
    if reduce_dim % t.dim() != t.dim() - 1:
        x = x.movedim(reduce_dim, -1)
    return x.reshape(-1, x.shape[-1])


def zero_block_fracs(zero: torch.Tensor, blocks: tuple[tuple[int, int], ...]) -> dict[tuple[int, int], float | None]:
    """Fraction of all-true ``rows×cols`` blocks of the boolean matrix ``zero`` per shape.

    Whole blocks only: the last ``rows % r`` rows and ``k % c`` columns are dropped. Each
    shape is reduced from the largest already-reduced shape that tiles it (1×16 from 1×8,
    128×16 from 32×16), so the row-axis shapes cost little beyond one pass over ``zero``.
    """
    r_all, k_all = zero.shape
    # 0/1 bytes reduced with amin: torch's ``all`` over a dim is 3-15x slower on this CPU.
    ones = zero.view(torch.uint8) if zero.dtype == torch.bool else (zero != 0).view(torch.uint8)
    by_cols: dict[int, torch.Tensor] = {1: ones}  # all-zero 1×cols blocks, [r_all, k_all // cols]
    for cols in sorted({c for _, c in blocks}):
        if cols in by_cols:
            continue
        base = max(c for c in by_cols if cols % c == 0)
        src, width = by_cols[base], cols // base
        k = (src.shape[1] // width) * width
        by_cols[cols] = src[:, :k].reshape(r_all, k // width, width).amin(dim=2)
    by_shape: dict[tuple[int, int], torch.Tensor] = {}  # all-zero blocks, [r_all // r, k_all // c]
    fracs: dict[tuple[int, int], float | None] = {}
    for rows, cols in sorted(set(blocks)):  # rows ascending within each cols: reductions chain
        if r_all // rows == 0 or by_cols[cols].shape[1] == 0:
            fracs[(rows, cols)] = None
            continue
        base = max((r for r, c in by_shape if c == cols and rows % r == 0), default=1)
        src = by_shape[(base, cols)] if base > 1 else by_cols[cols]
        factor = rows // base
        n = (src.shape[0] // factor) * factor  # whole blocks: floor(floor(r/base)/f) = floor(r/rows)
        full = src[:n].reshape(n // factor, factor, -1).amin(dim=1) if factor > 1 else src
        by_shape[(rows, cols)] = full
        fracs[(rows, cols)] = int(torch.count_nonzero(full)) / full.numel()
    return {shape: fracs[shape] for shape in blocks}


def block_zero_frac(mat: torch.Tensor, rows: int, cols: int) -> float | None:
    """Fraction of all-zero ``rows×cols`` blocks of ``mat``; whole blocks only."""
    return zero_block_fracs(mat == 0, ((rows, cols),))[(rows, cols)]


def channel_absmax_ratio(mat: torch.Tensor) -> float | None:
    """max / median of the per-channel (column) max |x|: how much per-channel scaling helps."""
    if mat.shape[1] < 2:
        return None
    return _ratio(mat.abs().amax(dim=0))


def _ratio(per_channel: torch.Tensor) -> float | None:
    per_channel = per_channel.float()
    median = float(torch.quantile(per_channel, 0.5))  # numpy's median: mean of the middle two
    if median == 0.0 or per_channel.numel() < 2:
        return None
    return float(per_channel.max()) / median


def channel_absmax(x: torch.Tensor, reduce_dim: int) -> torch.Tensor:
    """Per-channel max |x| along ``reduce_dim`` (the channels), without an ``abs`` copy."""
    dims = [d for d in range(x.dim()) if d != reduce_dim % x.dim()]
    return torch.maximum(x.amax(dim=dims), -x.amin(dim=dims))


def subsample(t: torch.Tensor, max_elements: int) -> torch.Tensor:
    """A float32 copy of at most ``max_elements`` elements, strided evenly over ``t``."""
    return strided(t, max_elements).to(torch.float32, copy=True)


def _quantise(x: torch.Tensor, scale: float, qmax: int) -> torch.Tensor:
    return torch.round(x / scale).clamp_(-qmax, qmax)


def delta_stats(prev: torch.Tensor, prev_absmax: float, cur: torch.Tensor, cur_absmax: float) -> dict[str, float]:
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


@dataclass(frozen=True)
class MacOperand:
    """The activation operand of a GEMM-like op (conv, matmul) and the dim it is reduced along."""

    values: torch.Tensor
    reduce_dim: int


class StatsCollector:
    """Per-op statistics over successive model calls (ops matched by index across calls).

    Holds the subsampled operand of each MAC op from the previous call (for deltas) and the
    weight statistics (computed once: weights do not change between calls). Frontends call
    :meth:`row` once per op per call with that op's operands.
    """

    def __init__(self, config: StatsConfig) -> None:
        self.config = config
        self._prev: dict[int, tuple[torch.Tensor, float]] = {}
        self._weights: dict[int, ZeroCounts] = {}
        self._call_cache: dict[str, ZeroCounts] = {}

    def row(
        self,
        index: int,
        acts: list[torch.Tensor],
        weights: list[torch.Tensor],
        mac_operand: MacOperand | None,
        act_keys: list[str] | None = None,
    ) -> dict[str, float | None]:
        """Statistics of one op: ``acts`` and ``weights`` are its floating inputs,
        ``mac_operand`` its GEMM activation operand and that operand's reduction dim.

        ``act_keys`` name immutable values (ONNX value names): their counts are computed once
        per call and reused by every op that reads them (see :meth:`next_call`).
        """
        threads = torch.get_num_threads()
        # Statistics are many small reductions: intra-op threads cost more than they give,
        # and on a busy 2-core machine they made a terrain step 8x slower (190 s vs 25 s).
        torch.set_num_threads(1)
        try:
            return self._row(index, acts, weights, mac_operand, act_keys)
        finally:
            torch.set_num_threads(threads)

    def _row(
        self,
        index: int,
        acts: list[torch.Tensor],
        weights: list[torch.Tensor],
        mac_operand: MacOperand | None,
        act_keys: list[str] | None,
    ) -> dict[str, float | None]:
        cfg = self.config
        counts = EMPTY_COUNTS
        for i, t in enumerate(acts):
            key = act_keys[i] if act_keys is not None else None
            c = self._call_cache.get(key) if key is not None else None
            if c is None:
                c = zero_counts(t, cfg)
                if key is not None:
                    self._call_cache[key] = c
            counts = counts + c
        row: dict[str, float | None] = {
            "act_zero_frac": counts.zero_frac,
            "act_near_zero_frac": counts.near_zero_frac,
            "act_absmax": counts.absmax if counts.elements else None,
        }
        if weights:
            w = self._weights.get(index)
            if w is None:
                w = EMPTY_COUNTS
                for t in weights:  # once per op: exact, whatever the size
                    w = w + zero_counts(t, cfg, exact=True)
                self._weights[index] = w
            row["weight_zero_frac"] = w.zero_frac
            row["weight_near_zero_frac"] = w.near_zero_frac
        if mac_operand is not None and mac_operand.values.numel():
            self._mac_row(index, mac_operand.values, mac_operand.reduce_dim, row)
        return row

    def next_call(self) -> None:
        """Forget per-call cached counts (values change between calls)."""
        self._call_cache.clear()

    def _mac_row(self, index: int, x: torch.Tensor, reduce_dim: int, row: dict[str, float | None]) -> None:
        x = x.detach()
        zero = reduction_matrix(x == 0, reduce_dim)
        if zero is not None:
            for (rows, cols), frac in zero_block_fracs(zero, BLOCKS).items():
                row[block_stat_name(rows, cols)] = frac
            row["act_channel_absmax_ratio"] = _ratio(channel_absmax(x, reduce_dim))
        absmax = absmax_of(x)
        sample = subsample(x, self.config.delta_max_elements)
        prev = self._prev.get(index)
        if prev is not None and prev[0].shape == sample.shape:
            row.update(delta_stats(prev[0], prev[1], sample, absmax))
        self._prev[index] = (sample, absmax)

    def clear(self) -> None:
        self._call_cache.clear()
        self._prev.clear()
        self._weights.clear()
