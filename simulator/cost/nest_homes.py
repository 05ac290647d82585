"""Where the nest path keeps tensors on chip: inter-op activation reuse, weights resident across
steps, and fused attention's scores (the one-level model's three kinds of residency, on the loop
nest).

A kept tensor is modelled the way a Timeloop or Stream user describes it, per op:

- it costs no DRAM bytes: the op's nests run on a :class:`~simulator.cost.nest.arch.NestArch`
  whose DRAM level carries the operand at factor 0 (``NestLevel.compression``, the per-operand
  bytes DRAM stores and moves per plain byte). The analysis and the mapper's scorer then drop the
  operand's DRAM reads and writes, their energy and their transfer time, and the DRAM side of the
  handover to the level below (:mod:`simulator.cost.nest.analysis`); of a kept output only the
  final outputs go (partial sums a mapping spills to DRAM stay, as for a coded output);
- it occupies its holding level for the whole op: that level's capacity for the op's mapping
  (the operand's partition when the level gives it one, else the pool the other operands share)
  shrinks by the tensor's bytes (as :func:`simulator.cost.residency.reserve` does for the one-level
  model), so the mapper only uses what is left; an op whose tiles no longer fit cannot keep it;
- it is read from and written to that level like any tile: the holding level is the outermost
  shared level that holds the operand (``Hardware.home``; for weights the residency level), and its
  fills of the operand, which DRAM would have served, are charged as the level's writes and its
  bandwidth (an upper bound: a buffer that addresses the kept region in place skips that copy).

The tensors' bytes (:func:`op_archs`): an input left by the op before is the first nest's input
footprint over all copies at the activation width, an output kept for the op after the last
nest's output footprint at the output width (the one-level model's ``a_unique`` and ``out_final``,
:func:`simulator.cost.gemm.fits`), resident weights the model's parameters
(:func:`simulator.cost.residency.param_bytes`, held by every op), and fused attention's scores
one block of ``scores_rows`` query rows by ``Lk`` keys of one head at the wider of the activation
and output widths (heads and blocks run one after another, FlashAttention's schedule: Dao et al.,
NeurIPS 2022, Alg. 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from accelerator.spec import ConvView
from models.workload import Op
from simulator.cost.hardware import ACT, OUT, Hardware
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.ops import problems
from simulator.cost.nest.problem import INP, Problem, attention
from simulator.cost.nest.problem import OUT as NEST_OUT
from simulator.cost.residency import Residency


@dataclass(frozen=True)
class Keep:
    """What of one op stays on chip."""

    res_in: bool = False  # its input was left on chip by the op before (inter-op reuse)
    res_out: bool = False  # its output stays on chip for the op after
    out_written: bool = False  # a kept output still goes to DRAM (another op reads it: out_shared)
    scores_rows: int = 0  # fused attention: query rows per block whose scores stay on chip; 0: unfused


@dataclass(frozen=True)
class Homes:
    """The nest levels that hold kept tensors (indices into ``NestArch.levels``; −1: none) and the
    resident weights' bytes (0: weights come from DRAM every step)."""

    act_level: int
    out_level: int
    weight_level: int
    weight_bytes: float


def homes_of(hw: Hardware, narch: NestArch, res: Residency | None) -> Homes:
    """The holding levels of ``hw`` in ``narch`` (its shared levels follow the per-PE ones), with
    the weights of ``res`` resident when it says so."""
    fan = narch.fanout_level

    def at(i: int) -> int:
        return fan + i if i >= 0 else -1

    kept = res is not None and res.resident
    return Homes(
        act_level=at(hw.home[ACT]),
        out_level=at(hw.home[OUT]),
        weight_level=at(res.level_index) if kept and res is not None else -1,
        weight_bytes=res.resident_bytes if kept and res is not None else 0.0,
    )


def op_problems(op: Op, conv_view: ConvView, scores_rows: int) -> tuple[Problem, ...]:
    """The nests of ``op`` (:func:`simulator.cost.nest.ops.problems`); fused attention
    (``scores_rows`` > 0) runs its query rows in blocks of ``scores_rows``, each block of each head
    a copy of the two nests (the keys and values are read again per block, as FlashAttention does)."""
    if scores_rows and op.kind == "attention" and op.gemm is not None:
        b, lq, lk, d = op.gemm
        return attention(op.name, batch_heads=b * (lq // scores_rows), lq=scores_rows, lk=lk, d=d)
    return problems(op, conv_view)


#: Fused attention's scores take at most this share of their level, the rest for the op's tiles
#: (this model's choice, not a published number).
SCORES_SHARE = 0.5


def score_blocks(op: Op, narch: NestArch, homes: Homes) -> list[int]:
    """The query-row blocks whose scores fused attention may keep, largest first: divisors of
    ``Lq`` whose block of one head takes at most :data:`SCORES_SHARE` of both holding levels."""
    if op.kind != "attention" or op.gemm is None or homes.act_level < 0 or homes.out_level < 0:
        return []
    _, lq, lk, _ = op.gemm
    width = max(narch.word_bits[INP] / narch.lanes, narch.output_bits) / 8.0  # one value, packed or not
    pooled = homes.weight_level >= 0 and not _own(narch.levels[homes.weight_level], 0)  # else in their partition

    def room(level: int, operand: int) -> float:
        """``operand``'s capacity at ``level``, less the kept weights where both share its pool."""
        lv = narch.levels[level]
        shared = pooled and level == homes.weight_level and not _own(lv, operand)
        return _capacity(lv, operand) - (homes.weight_bytes if shared else 0.0)

    cap = min(room(homes.act_level, INP), room(homes.out_level, NEST_OUT))
    return [d for d in _divisors_down(lq) if d * lk * width <= SCORES_SHARE * cap]


def _divisors_down(n: int) -> list[int]:
    """The divisors of ``n``, largest first (pairs ``d, n / d`` up to ``sqrt(n)``)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    large = [n // d for d in small if d * d != n]
    return large + small[::-1]


def _own(lv: NestLevel, operand: int) -> bool:
    """Whether ``operand`` has a partition of its own in ``lv`` (else it shares the pool)."""
    return lv.operand_bytes is not None and math.isfinite(lv.operand_bytes[operand])


def _capacity(lv: NestLevel, operand: int) -> float:
    """Bytes ``operand`` may fill in ``lv``: its partition, else the whole pool ``size_bytes``."""
    return lv.operand_bytes[operand] if lv.operand_bytes is not None and _own(lv, operand) else lv.size_bytes


def _reserve(lv: NestLevel, operand: int, nbytes: float) -> NestLevel | None:
    """``lv`` with ``nbytes`` of its capacity taken by a kept tensor of ``operand``: out of the
    operand's partition when it has one, else out of the pool; None when nothing is left."""
    if lv.operand_bytes is not None and _own(lv, operand):
        parts = list(lv.operand_bytes)
        parts[operand] -= nbytes
        return replace(lv, operand_bytes=tuple(parts)) if parts[operand] > 0 else None  # type: ignore[arg-type]
    left = lv.size_bytes - nbytes
    return replace(lv, size_bytes=left) if left > 0 else None


def homed(base: NestArch, drop: tuple[bool, bool, bool], reserved: list[tuple[int, int, float]]) -> NestArch | None:
    """``base`` with DRAM leaving out the operands ``drop`` names (factor 0) and each
    ``(level, operand, bytes)`` of ``reserved`` taken from its level; None when a level has nothing
    left. ``base`` itself when nothing is kept."""
    if not any(drop) and not reserved:
        return base
    levels = list(base.levels)
    for idx, operand, nbytes in reserved:
        lv = _reserve(levels[idx], operand, nbytes)
        if lv is None:
            return None
        levels[idx] = lv
    dram = levels[-1]
    levels[-1] = replace(
        dram,
        compression=tuple(0.0 if d else c for d, c in zip(drop, dram.compression, strict=True)),  # type: ignore[arg-type]
    )
    return replace(base, levels=tuple(levels))


def op_archs(
    base: NestArch, homes: Homes, nests: tuple[Problem, ...], keep: Keep, weights_param: bool
) -> list[NestArch] | None:
    """One arch per nest of an op that keeps ``keep`` (module docstring); ``weights_param``: the
    op's weights are model parameters (resident when ``homes`` keeps weights). None when a kept
    tensor has no level to live in or leaves its level no room."""
    if (keep.res_in or keep.scores_rows) and homes.act_level < 0:
        return None
    if (keep.res_out or keep.scores_rows) and homes.out_level < 0:
        return None
    a_bytes, o_bytes = base.word_bits[INP] / 8.0, base.output_bits / 8.0
    common: list[tuple[int, int, float]] = []
    if homes.weight_bytes > 0:
        common.append((homes.weight_level, 0, homes.weight_bytes))
    if keep.res_in:
        common.append((homes.act_level, INP, nests[0].footprint(INP) * nests[0].copies * a_bytes))
    if keep.res_out:
        common.append((homes.out_level, NEST_OUT, nests[-1].footprint(NEST_OUT) * nests[-1].copies * o_bytes))
    out: list[NestArch] = []
    last = len(nests) - 1
    for j, p in enumerate(nests):
        reserved = list(common)
        drop = [weights_param and homes.weight_bytes > 0, j == 0 and keep.res_in, False]
        drop[NEST_OUT] = j == last and keep.res_out and not keep.out_written
        if keep.scores_rows:
            # P = the block's rows; one score's bytes (a packed input word holds `lanes` of them)
            s = p.bounds[3] * max(base.word_bits[INP] / base.lanes, base.output_bits) / 8.0
            if j == 0:  # Q·Kᵀ writes the scores
                s *= p.bounds[1]
                drop[NEST_OUT] = True
                reserved.append((homes.out_level, NEST_OUT, s))
            else:  # P·V reads them
                s *= p.bounds[2] * base.lanes  # C = Lk in packed words
                drop[INP] = True
                reserved.append((homes.act_level, INP, s))
        arch = homed(base, (drop[0], drop[1], drop[2]), reserved)
        if arch is None:
            return None
        out.append(arch)
    return out
