"""Energy and cycles of one mapped loop nest, from the access counts of :mod:`.counts`.

Energy (pJ) = MACs × the MAC energy + Σ over levels and operands of reads × word bits × read
pJ/bit + writes × word bits × write pJ/bit. On a packed design (``NestArch.lanes`` > 1, the
problem :func:`~simulator.cost.nest.arch.packed`) a word of weights or inputs is the packed word
and the MACs are the lanes' slots, ``lanes`` per point of the packed nest (a partial last word's
idle lanes included: they multiply its zero padding). Words are the operand's width (weights, inputs,
partial sums); the outputs DRAM receives for the last time are written at the output width,
earlier spills at the partial-sum width. The datapath's operand registers cost nothing here. A
DRAM that codes an operand (``NestLevel.compression``: Eyeriss's run-length coded fmaps) stores,
moves and is charged for its coded bytes: weights' and inputs' words scale by their ratio, the
final outputs' by the outputs' ratio at the output width; partial sums spilled and read back
stay plain (the code is for feature maps).

Cycles (state of the model):

- compute = the product of all temporal factors (one beat per PE per cycle: one MAC, or
  ``lanes`` MACs of one packed word; idle PEs of a partly used array count as time, not work),
  summed over the passes of an imperfect mapping (a remainder nest's partial loops run only
  their iterations), plus the array's pipeline: its
  fixed cycles per change of the stationary tile (:mod:`.systolic`; ``fill_cycles``);
- each level's transfer time = its bytes (reads + writes) per instance / its bandwidth per
  instance; with double buffering these overlap compute, so the op takes at least the largest;
- a shared level that is not double-buffered cannot fill while it is in use: the bytes between
  it and its parent (fills and drains) are added serially at the slower of the two bandwidths
  (each side at its own bytes: the parent's coded, the level's plain), except those of the
  operands it prefetches (``NestLevel.prefetched``: two tiles of each, the next loading while the
  current one is in use), which overlap compute like a double buffer's and stay in the transfer
  times;
  a double-buffered one overlaps load, compute and write-back in sub-tiles, even when the op is
  one tile of it: it exposes only the data one iteration of its own loops hands down
  (:func:`.tiles.subtile_words`: received before the levels below start, drained after they
  finish), at the same bandwidth. Per-PE levels are taken to fill in the shadow of compute
  (their transfer time is still in the maximum).

``cycles = max(compute, T_level for every level) + Σ exposed fills``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost.nest.arch import NestArch, NestLevel, Triple
from simulator.cost.nest.counts import (
    DRAINS,
    FILLS,
    READS,
    WRITES,
    axis_coefs,
    peeled_counts,
)
from simulator.cost.nest.mapping import Mapping, check
from simulator.cost.nest.problem import OUT, Problem
from simulator.cost.nest.systolic import Pipeline
from simulator.cost.nest.tiles import consumed_whole, subtile_words, tile_words


@dataclass(frozen=True)
class NestResult:
    """One mapped nest, all copies (units in the names; arrays are ``(levels, 3)`` per operand:
    weights, inputs, outputs)."""

    problem: Problem
    mapping: Mapping
    macs: int  # the lanes' MAC slots: problem.macs × lanes (the problem's MACs when unpacked)
    reads_words: np.ndarray
    writes_words: np.ndarray
    energy_pj_by_level: dict[str, float]  # "mac" and every level's name
    compute_cycles: float  # MAC cycles + fill_cycles
    fill_cycles: float  # the array pipeline's fixed cycles per stationary tile change (.systolic)
    transfer_cycles: dict[str, float]  # per level, per instance
    exposed_cycles: float
    exposed_cycles_by_level: dict[str, float]  # the fills and drains of each shared level below DRAM
    traffic_bytes: dict[
        str, float
    ]  # per level, all instances: reads + writes (DRAM's final outputs at the output width)
    cycles: float
    utilization: float  # MACs / (PEs × cycles)

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_pj_by_level.values()))

    @property
    def dram_words(self) -> float:
        return float(self.reads_words[-1].sum() + self.writes_words[-1].sum())


def nest_arrays(problem: Problem, arch: NestArch, mapping: Mapping) -> tuple[np.ndarray, ...]:
    """``(bounds, coef, factors, orders, spatial, holds)`` for the compiled counting functions."""
    f, o, sp = mapping.arrays(arch)
    holds = np.array([lv.holds for lv in arch.levels], dtype=np.bool_)
    return np.asarray(problem.bounds, np.int64), axis_coefs(problem.stride, problem.dilation), f, o, sp, holds


def fits(problem: Problem, arch: NestArch, mapping: Mapping) -> list[str]:
    """The levels whose tiles overflow them (empty when all fit)."""
    return _overflows(arch, nest_arrays(problem, arch, mapping))


def _overflows(arch: NestArch, arrays: tuple[np.ndarray, ...]) -> list[str]:
    """:func:`fits` on the mapping's :func:`nest_arrays` (tiles in bytes per instance and level)."""
    b, coef, f, _, sp, holds = arrays
    tb = np.asarray(tile_words(b, coef, f, sp, holds)) * np.asarray(arch.word_bits) / 8.0
    return [
        f"{lv.name}: tiles of {tuple(round(x) for x in tb[i])} B do not fit"
        for i, lv in enumerate(arch.levels)
        if not lv.capacity_ok(tuple(tb[i]), _copies(lv, f, holds, i))  # type: ignore[arg-type]
    ]


def _copies(lv: NestLevel, f: np.ndarray, holds: np.ndarray, i: int) -> Triple:
    """Tiles of each operand level ``i`` holds under factors ``f``: :meth:`NestLevel.tile_copies`,
    but one of a prefetched operand the levels below take whole (:func:`.tiles.consumed_whole`)."""
    return tuple(  # type: ignore[return-value]
        1.0 if p and consumed_whole(f, holds, i, o) else c
        for o, (p, c) in enumerate(zip(lv.prefetched, lv.tile_copies(), strict=True))
    )


def evaluate(problem: Problem, arch: NestArch, mapping: Mapping, *, check_mapping: bool = True) -> NestResult:
    """Counts, energy and cycles of ``problem`` under ``mapping`` (raises on an invalid mapping)."""
    arrays = nest_arrays(problem, arch, mapping)
    if check_mapping:
        errors = check(mapping, problem, arch) or _overflows(arch, arrays)
        if errors:
            raise SimulationError(f"mapping of {problem.name!r} on {arch.name}: " + "; ".join(errors))
    b, coef, f, o, sp, holds = arrays
    pipe = arch.pipeline
    acc, final, compute, folds, valid = peeled_counts(
        b, coef, f, o, sp, holds, -1 if pipe is None else pipe.stationary, arch.fanout_level
    )
    if not valid:
        raise SimulationError(f"mapping of {problem.name!r} on {arch.name}: factors do not cover the bounds")
    fill = 0.0 if pipe is None else fill_cycles(pipe, folds)
    return _result(problem, arch, mapping, acc, final, compute, fill, arrays)


def _handover_cycles(plain_bytes: np.ndarray, finals: float, lv: NestLevel, parent: NestLevel) -> float:
    """Cycles to move ``plain_bytes`` (per operand) between ``lv`` and ``parent``: the slower side,
    each at the bytes it sees, the parent's coded (:attr:`NestLevel.compression`; of the outputs
    only ``finals`` bytes, the final outputs, are coded)."""
    comp = parent.compression
    coded = float(plain_bytes[0] * comp[0] + plain_bytes[1] * comp[1])
    coded += float(plain_bytes[OUT] - finals) + finals * comp[OUT]
    return max(float(plain_bytes.sum()) / lv.bandwidth_bytes_per_cycle, coded / parent.bandwidth_bytes_per_cycle)


def fill_cycles(pipe: Pipeline, folds: np.ndarray) -> float:
    """The pipeline's fixed cycles for ``folds`` = (changes, first visits) of the stationary tile."""
    return float(folds[1] * pipe.fill_cycles + (folds[0] - folds[1]) * pipe.refill_cycles)


def _result(
    problem: Problem,
    arch: NestArch,
    mapping: Mapping,
    acc: np.ndarray,
    final: float,
    compute_one: float,
    fill_one: float,
    arrays: tuple[np.ndarray, ...],
) -> NestResult:
    b, coef, f, _, sp, holds = arrays  # nest_arrays of the mapping
    copies = problem.copies
    acc = acc[1:] * copies  # the datapath registers cost nothing
    final *= copies
    bits = np.asarray(arch.word_bits)
    nlev = len(arch.levels)
    macs = problem.macs * arch.lanes  # lane slots of the packed words (module docstring)
    energy: dict[str, float] = {"mac": problem.macs * (arch.mac_pj * arch.lanes)}
    transfer: dict[str, float] = {}
    fill = fill_one * copies
    compute = float(compute_one) * copies + fill
    pes_above = np.cumprod(np.prod(sp, axis=1)[::-1])[::-1]  # spatial loops at or above each level
    exposed = 0.0
    exposed_by: dict[str, float] = {}
    traffic: dict[str, float] = {}
    for i, lv in enumerate(arch.levels):
        rd, wr = acc[i, :, READS], acc[i, :, WRITES]
        comp = lv.compression
        cbits = bits * np.array([comp[0], comp[1], 1.0])  # bits stored per word; outputs' finals below
        e = float(
            (rd * cbits * np.asarray(lv.read_pj_per_bit)).sum() + (wr * cbits * np.asarray(lv.write_pj_per_bit)).sum()
        )
        # final outputs at the (coded) output width, not the partial-sum width
        adjust = final * (bits[OUT] - arch.output_bits * comp[OUT]) if i == nlev - 1 else 0.0
        e -= adjust * lv.write_pj_per_bit[OUT]
        energy[lv.name] = e
        traffic[lv.name] = float(((rd + wr) * cbits).sum()) / 8.0 - adjust / 8.0
        inst = float(pes_above[i + 1]) if i + 1 < nlev else 1.0
        transfer[lv.name] = traffic[lv.name] / inst / lv.bandwidth_bytes_per_cycle
        if i >= arch.fanout_level and i < nlev - 1:
            parent = arch.levels[i + 1]
            if lv.double_buffered:  # the last sub-tile drained holds final outputs
                words = np.asarray(subtile_words(b, coef, f, sp, holds, i)) * copies  # each copy a nest of its own
                finals = words[OUT]
            else:  # a prefetched operand's fills and drains overlap compute (in the transfer times)
                words = (acc[i, :, FILLS] + acc[i, :, DRAINS]) * np.logical_not(lv.prefetched)
                finals = min(final, words[OUT])
            finals = finals if i + 1 == nlev - 1 else 0.0  # only DRAM receives final outputs
            exposed_by[lv.name] = _handover_cycles(words * bits / 8.0, finals * bits[OUT] / 8.0, lv, parent)
            exposed += exposed_by[lv.name]
    cycles = max(compute, *transfer.values()) + exposed
    pes = arch.rows * arch.cols * arch.lanes
    return NestResult(
        problem=problem,
        mapping=mapping,
        macs=macs,
        reads_words=acc[:, :, READS],
        writes_words=acc[:, :, WRITES],
        energy_pj_by_level=energy,
        compute_cycles=compute,
        fill_cycles=fill,
        transfer_cycles=transfer,
        exposed_cycles=exposed,
        exposed_cycles_by_level=exposed_by,
        traffic_bytes=traffic,
        cycles=cycles,
        utilization=macs / (pes * cycles) if cycles > 0 else math.nan,
    )
