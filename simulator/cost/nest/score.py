"""Energy and cycles of many candidate mappings at once (numba), the mapper's inner loop.

The same equations as :mod:`simulator.cost.nest.analysis` (tests hold them equal), over arrays
of candidates ``(n, levels, 7)``; a candidate whose tiles overflow a level, or whose factors do
not cover the bounds, scores ``inf``.
Energy and cycles are of one copy of the nest.

The kernels are cached on disk (numba ``cache=True``, ``__pycache__``), and numba checks only
the time stamp of the file that defines a cached function: after editing
:mod:`.counts` or :mod:`.systolic`, whose kernels ``_score`` compiles in, save this file too
(or delete its ``*.nbi``/``*.nbc`` files), else ``_score`` keeps running the old counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.counts import DRAINS, FILLS, READS, WRITES, peeled_counts, subtile_words, tile_words


@dataclass(frozen=True)
class ArchArrays:
    """A :class:`NestArch` as arrays (pJ per word, bytes, bytes per cycle)."""

    holds: np.ndarray  # (levels, 3) bool
    read_pj: np.ndarray  # (levels, 3) per word
    write_pj: np.ndarray
    word_bytes: np.ndarray  # (3,)
    bandwidth: np.ndarray  # (levels,) bytes per cycle per instance
    double_buffered: np.ndarray  # (levels,) bool
    compression: np.ndarray  # (levels, 3) bytes stored and moved per plain byte
    size_bytes: np.ndarray  # (levels,) shared capacity (inf where partitioned)
    operand_bytes: np.ndarray  # (levels, 3) partitions (inf where shared)
    fanout: int
    mac_pj: float
    final_adjust_pj: float  # per final output word at DRAM: output width instead of psum width
    final_adjust_bytes: float  # the same in bytes moved (negative when outputs are narrower)
    out_coded_pj: float  # per final output word at DRAM and unit of its code's ratio above 1
    out_coded_bytes: float  # the same in bytes moved
    stationary: int  # the pipeline's stationary operand (-1: no pipeline, .systolic)
    fill_cycles: float  # per first visit of a stationary tile
    refill_cycles: float  # per later visit


def arch_arrays(arch: NestArch) -> ArchArrays:
    bits = np.asarray(arch.word_bits)
    lv = arch.levels
    return ArchArrays(
        holds=np.array([x.holds for x in lv], dtype=np.bool_),
        read_pj=np.array([x.read_pj_per_bit for x in lv]) * bits,
        write_pj=np.array([x.write_pj_per_bit for x in lv]) * bits,
        word_bytes=bits / 8.0,
        bandwidth=np.array([x.bandwidth_bytes_per_cycle for x in lv]),
        double_buffered=np.array([x.double_buffered for x in lv], dtype=np.bool_),
        compression=np.array([x.compression for x in lv], dtype=np.float64),
        size_bytes=np.array([math.inf if x.operand_bytes is not None else x.size_bytes for x in lv]),
        operand_bytes=np.array([x.operand_bytes if x.operand_bytes is not None else (math.inf,) * 3 for x in lv]),
        fanout=arch.fanout_level,
        mac_pj=arch.mac_pj,
        final_adjust_pj=(arch.output_bits - arch.word_bits[2]) * lv[-1].write_pj_per_bit[2],
        final_adjust_bytes=(arch.output_bits - arch.word_bits[2]) / 8.0,
        out_coded_pj=arch.output_bits * lv[-1].write_pj_per_bit[2],
        out_coded_bytes=arch.output_bits / 8.0,
        stationary=-1 if arch.pipeline is None else arch.pipeline.stationary,
        fill_cycles=0.0 if arch.pipeline is None else arch.pipeline.fill_cycles,
        refill_cycles=0.0 if arch.pipeline is None else arch.pipeline.refill_cycles,
    )


@numba.njit(cache=True)
def _score(  # type: ignore[no-untyped-def]
    bounds,
    coef,
    factors,
    orders,
    spatial,
    holds,
    read_pj,
    write_pj,
    word_bytes,
    bandwidth,
    dbuf,
    comp,
    size,
    opsize,
    fanout,
    mac_pj,
    final_adj,
    final_adj_bytes,
    out_coded_pj,
    out_coded_bytes,
    stationary,
    fill,
    refill,
):
    n = factors.shape[0]
    nlev = factors.shape[1]
    energy = np.full(n, np.inf)
    cycles = np.full(n, np.inf)
    macs = 1.0
    for d in range(7):
        macs *= bounds[d]
    for j in range(n):
        tw = tile_words(bounds, coef, factors[j], spatial[j], holds)
        ok = True
        for lv in range(nlev):
            mult = 2.0 if dbuf[lv] else 1.0
            tot = 0.0
            for o in range(3):
                b = tw[lv, o] * word_bytes[o] * mult
                tot += b
                if b > opsize[lv, o]:
                    ok = False
            if tot > size[lv]:
                ok = False
        if not ok:
            continue
        acc, final, compute, folds, valid = peeled_counts(
            bounds, coef, factors[j], orders[j], spatial[j], holds, stationary, fanout
        )
        if not valid:
            continue
        e = macs * mac_pj + final * final_adj
        worst = compute + folds[1] * fill + (folds[0] - folds[1]) * refill
        exposed = 0.0
        for lv in range(nlev):
            inst = 1.0
            for k in range(lv + 1, nlev):
                for d in range(7):
                    inst *= spatial[j, k, d]
            moved = 0.0
            plain = 0.0  # bytes handed to the parent, at this level's plain words
            coded = 0.0  # the same at the parent's coded bytes
            sub = subtile_words(bounds, coef, factors[j], spatial[j], holds, lv) if dbuf[lv] else tw[lv]
            for o in range(3):
                rd = acc[lv + 1, o, READS]
                wr = acc[lv + 1, o, WRITES]
                c = comp[lv, o] if o < 2 else 1.0  # outputs: final ones coded below, spills plain
                e += (rd * read_pj[lv, o] + wr * write_pj[lv, o]) * c
                moved += (rd + wr) * word_bytes[o] * c
                if dbuf[lv]:
                    words = sub[o]
                else:
                    words = acc[lv + 1, o, FILLS] + acc[lv + 1, o, DRAINS]
                plain += words * word_bytes[o]
                if lv < nlev - 1:
                    if o < 2:
                        coded += words * word_bytes[o] * comp[lv + 1, o]
                    else:  # the last sub-tile, or the final outputs among the drains, coded (DRAM only)
                        fin = words if dbuf[lv] else min(final, words)
                        if lv + 1 < nlev - 1:
                            fin = 0.0
                        coded += (words - fin) * word_bytes[o] + fin * word_bytes[o] * comp[lv + 1, o]
            if lv == nlev - 1:  # final outputs reach DRAM at the (coded) output width
                moved += final * final_adj_bytes
                e += final * (comp[lv, 2] - 1.0) * out_coded_pj
                moved += final * (comp[lv, 2] - 1.0) * out_coded_bytes
            t = moved / inst / bandwidth[lv]
            if t > worst:
                worst = t
            if lv >= fanout and lv < nlev - 1:
                exposed += max(plain / bandwidth[lv], coded / bandwidth[lv + 1])
        energy[j] = e
        cycles[j] = worst + exposed
    return energy, cycles


def score(
    aa: ArchArrays, bounds: np.ndarray, coef: np.ndarray, factors: np.ndarray, orders: np.ndarray, spatial: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Energy (pJ) and cycles of one copy per candidate; ``inf`` where tiles do not fit."""
    e, c = _score(
        bounds,
        coef,
        factors,
        orders,
        spatial,
        aa.holds,
        aa.read_pj,
        aa.write_pj,
        aa.word_bytes,
        aa.bandwidth,
        aa.double_buffered,
        aa.compression,
        aa.size_bytes,
        aa.operand_bytes,
        aa.fanout,
        aa.mac_pj,
        aa.final_adjust_pj,
        aa.final_adjust_bytes,
        aa.out_coded_pj,
        aa.out_coded_bytes,
        aa.stationary,
        aa.fill_cycles,
        aa.refill_cycles,
    )
    return np.asarray(e), np.asarray(c)
