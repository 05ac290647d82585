"""Energy and cycles of many candidate mappings at once (numba), the mapper's inner loop.

The same equations as :mod:`simulator.cost.nest.analysis` (tests hold them equal), over arrays
of candidates ``(n, levels, 7)``; a candidate whose tiles overflow a level, or whose factors do
not cover the bounds, scores ``inf``.
Energy and cycles are of one copy of the nest. What depends only on the loop nest (tiles,
access counts, MAC cycles, folds) may be kept between scorings of the same candidates
(:class:`Counts`, :mod:`simulator.cost.nest.pool`); the energies, capacities (with the tiles a
level holds twice: double buffers, prefetched operands), the exposed fills, bandwidths and
DRAM's compression are applied at every scoring. A level's capacity is a partition per operand
that has one (``NestLevel.operand_bytes``) and a pool the others share (``size_bytes``). On a
packed design (``NestArch.lanes`` > 1) the candidates map the packed problem
(:func:`~simulator.cost.nest.arch.packed`), so the counts are of packed words and beats as the
analysis's; each point of the nest is ``lanes`` MAC slots.

The kernels are cached on disk (numba ``cache=True``); numba alone would check only the file
that defines a cached function, so ``_score`` would keep the counts it compiled in after an edit
to :mod:`.counts` or :mod:`.systolic`. :mod:`.kernel_cache` keys every kernel's cache on all the
kernels' sources (bound in the package's ``__init__``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.counts import DRAINS, FILLS, READS, WRITES, peeled_counts
from simulator.cost.nest.rows import OFF, RowTable, add, find, row_hash
from simulator.cost.nest.tiles import subtile_words, tile_words, tiles_fit


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
    size_bytes: np.ndarray  # (levels,) the pool of the unpartitioned operands (inf where all are partitioned)
    operand_bytes: np.ndarray  # (levels, 3) partitions (inf where the operand shares the pool)
    tile_copies: np.ndarray  # (levels, 3) tiles of each operand an instance holds (NestLevel.tile_copies)
    prefetched: np.ndarray  # (levels, 3) bool: fills and drains overlap compute (NestLevel.prefetched)
    fanout: int
    mac_pj: float  # per MAC (per lane slot on a packed design)
    final_adjust_pj: float  # per final output word at DRAM: output width instead of psum width
    final_adjust_bytes: float  # the same in bytes moved (negative when outputs are narrower)
    out_coded_pj: float  # per final output word at DRAM and unit of its code's ratio above 1
    out_coded_bytes: float  # the same in bytes moved
    stationary: int  # the pipeline's stationary operand (-1: no pipeline, .systolic)
    fill_cycles: float  # per first visit of a stationary tile
    refill_cycles: float  # per later visit
    lanes: int = 1  # MACs per PE per cycle: each point of the (packed) nest is ``lanes`` MAC slots
    static_pj_per_cycle: float = 0.0  # NestArch.static_pj_per_cycle: the mapper adds it per cycle
    idle_pe_pj_per_cycle: float = 0.0  # NestArch.idle_pe_pj_per_cycle: of it, what uncovered PEs save
    pes: int = 1  # rows x cols of the array


def _all_partitioned(lv: NestLevel) -> bool:
    """Whether every operand of ``lv`` has a partition (its pool then holds nothing)."""
    return lv.operand_bytes is not None and all(math.isfinite(b) for b in lv.operand_bytes)


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
        size_bytes=np.array([math.inf if _all_partitioned(x) else x.size_bytes for x in lv]),
        operand_bytes=np.array([x.operand_bytes if x.operand_bytes is not None else (math.inf,) * 3 for x in lv]),
        tile_copies=np.array([x.tile_copies() for x in lv], dtype=np.float64),
        prefetched=np.array([x.prefetched for x in lv], dtype=np.bool_),
        fanout=arch.fanout_level,
        mac_pj=arch.mac_pj,
        final_adjust_pj=(arch.output_bits - arch.word_bits[2]) * lv[-1].write_pj_per_bit[2],
        final_adjust_bytes=(arch.output_bits - arch.word_bits[2]) / 8.0,
        out_coded_pj=arch.output_bits * lv[-1].write_pj_per_bit[2],
        out_coded_bytes=arch.output_bits / 8.0,
        stationary=-1 if arch.pipeline is None else arch.pipeline.stationary,
        fill_cycles=0.0 if arch.pipeline is None else arch.pipeline.fill_cycles,
        refill_cycles=0.0 if arch.pipeline is None else arch.pipeline.refill_cycles,
        lanes=arch.lanes,
        static_pj_per_cycle=arch.static_pj_per_cycle,
        idle_pe_pj_per_cycle=arch.idle_pe_pj_per_cycle,
        pes=arch.rows * arch.cols,
    )


#: :class:`Counts` states of a candidate: nothing known, its tile words known, its counts known,
#: its outermost loops not covering the bounds (``peeled_counts``'s ``valid`` False).
UNKNOWN, TILED, COUNTED, INVALID = 0, 1, 2, 3


@numba.njit(cache=True)
def _count(bounds, coef, f, o, s, holds, dbuf, stationary, fanout, acc, sub, folds, rows):  # type: ignore[no-untyped-def]
    """The loop-nest counts of one candidate ``(f, o, s)``: written to its rows ``acc``, ``sub``
    (double-buffered levels) and ``folds``; returns ``(valid, final, compute)`` (nothing written
    when not valid). Found in, or entered into, the table ``rows`` (:meth:`.rows.RowTable.arrays`;
    no slots: off) first."""
    slots, hashes, keys, used, t_valid, t_sub, t_acc, t_fin, t_comp, t_folds = rows
    nlev = f.shape[0]
    slot = -1
    h = np.uint64(0)
    if slots.shape[0] > 0:
        h = row_hash(f, o, s)
        e, slot = find(slots, hashes, keys, f, o, s, h)
        if e >= 0:
            if not t_valid[e]:
                return False, 0.0, 0.0
            acc[:] = t_acc[e]
            folds[:] = t_folds[e]
            for lv in range(nlev):
                if dbuf[lv]:
                    sub[lv] = t_sub[e, lv]
            return True, t_fin[e], t_comp[e]
    acc0, final0, compute0, folds0, valid = peeled_counts(bounds, coef, f, o, s, holds, stationary, fanout)
    if valid:
        acc[:] = acc0
        folds[:] = folds0
        for lv in range(nlev):
            if dbuf[lv]:
                sub[lv] = subtile_words(bounds, coef, f, s, holds, lv)
    if slot >= 0:
        e = add(slots, hashes, keys, used, f, o, s, h, slot)
        t_valid[e] = valid
        if valid:
            t_acc[e] = acc
            t_fin[e] = final0
            t_comp[e] = compute0
            t_folds[e] = folds
            for lv in range(nlev):
                if dbuf[lv]:
                    t_sub[e, lv] = sub[lv]
    return valid, final0, compute0


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
    copies,
    prefetched,
    fanout,
    mac_pj,
    final_adj,
    final_adj_bytes,
    out_coded_pj,
    out_coded_bytes,
    stationary,
    fill,
    refill,
    state,
    tw_c,
    sub_c,
    acc_c,
    fin_c,
    comp_c,
    folds_c,
    rows,
):
    n = factors.shape[0]
    nlev = factors.shape[1]
    energy = np.full(n, np.inf)
    cycles = np.full(n, np.inf)
    macs = 1.0
    for d in range(7):
        macs *= bounds[d]
    for j in range(n):
        if state[j] == UNKNOWN:
            tw_c[j] = tile_words(bounds, coef, factors[j], spatial[j], holds)
            state[j] = TILED
        tw = tw_c[j]
        if not tiles_fit(tw, factors[j], holds, word_bytes, copies, prefetched, size, opsize):
            continue
        if state[j] == TILED:
            valid, final0, compute0 = _count(
                bounds, coef, factors[j], orders[j], spatial[j], holds, dbuf, stationary, fanout,
                acc_c[j], sub_c[j], folds_c[j], rows,
            )  # fmt: skip
            if not valid:
                state[j] = INVALID
                continue
            fin_c[j] = final0
            comp_c[j] = compute0
            state[j] = COUNTED
        if state[j] == INVALID:
            continue
        acc = acc_c[j]
        final = fin_c[j]
        compute = comp_c[j]
        folds = folds_c[j]
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
            sub = sub_c[j, lv] if dbuf[lv] else tw[lv]
            for o in range(3):
                rd = acc[lv + 1, o, READS]
                wr = acc[lv + 1, o, WRITES]
                c = comp[lv, o] if o < 2 else 1.0  # outputs: final ones coded below, spills plain
                e += (rd * read_pj[lv, o] + wr * write_pj[lv, o]) * c
                moved += (rd + wr) * word_bytes[o] * c
                if dbuf[lv]:
                    words = sub[o]
                elif prefetched[lv, o]:  # overlaps compute: in the transfer times, not exposed
                    words = 0.0
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


#: The mapper's objectives (:func:`objective`'s ``kind``), by name.
OBJECTIVES = {"energy": 0, "latency": 1, "edp": 2}


@numba.njit(cache=True)
def objective(energy, cycles, spatial, static_pj, idle_pj, pes, kind):  # type: ignore[no-untyped-def]
    """The mapper's objective per candidate from :func:`score`'s energy (pJ) and cycles:
    ``static_pj`` per cycle added to the energy (leakage and clock, as reported; ``inf`` cycles
    stay ``inf``), less ``idle_pj`` per cycle for the share of the ``pes`` PEs the candidate's
    ``spatial`` factors leave uncovered (idle-PE gating); then energy (``kind`` 0), cycles with
    energy breaking ties (1) or their product, the EDP (2) (:data:`OBJECTIVES`)."""
    n = energy.shape[0]
    out = np.empty(n)
    for j in range(n):
        e = energy[j]
        c = cycles[j]
        if static_pj > 0:
            per_cycle = static_pj
            if idle_pj > 0:
                used = 1
                for lv in range(spatial.shape[1]):
                    for d in range(spatial.shape[2]):
                        used *= spatial[j, lv, d]
                per_cycle = static_pj - idle_pj * (1.0 - min(used / pes, 1.0))
            e = e + per_cycle * c if np.isfinite(c) else np.inf
        if kind == 0:
            out[j] = e
        elif kind == 1:
            out[j] = c + e * 1e-12
        else:
            out[j] = e * c
    return out


def score(
    aa: ArchArrays,
    bounds: np.ndarray,
    coef: np.ndarray,
    factors: np.ndarray,
    orders: np.ndarray,
    spatial: np.ndarray,
    counts: Counts | None = None,
    rows: RowTable = OFF,
) -> tuple[np.ndarray, np.ndarray]:
    """Energy (pJ) and cycles of one copy per candidate; ``inf`` where tiles do not fit.

    ``counts``: what is known of these candidates' loop nest (:class:`Counts`, from earlier calls
    on the same candidates and a design with the same ``counts_key``); filled in as needed. None:
    a fresh one, used once. ``rows``: candidates counted before on the same problem and
    ``counts_key`` (:mod:`.rows`), looked up and added to; ``OFF``: none."""
    if counts is None:
        counts = Counts.empty(factors.shape[0], factors.shape[1])
    rows.reserve(factors.shape[0])
    e, c = _score(bounds, coef, factors, orders, spatial, *arch_args(aa), *counts.arrays(), rows.arrays())  # type: ignore[call-arg]
    return np.asarray(e), np.asarray(c)


def arch_args(aa: ArchArrays) -> tuple[object, ...]:
    """The design's arguments of ``_score``, in its order (``holds`` to ``refill``)."""
    return (
        aa.holds,
        aa.read_pj,
        aa.write_pj,
        aa.word_bytes,
        aa.bandwidth,
        aa.double_buffered,
        aa.compression,
        aa.size_bytes,
        aa.operand_bytes,
        aa.tile_copies,
        aa.prefetched,
        aa.fanout,
        aa.mac_pj * aa.lanes,  # per point of the packed nest, as the analysis charges it
        aa.final_adjust_pj,
        aa.final_adjust_bytes,
        aa.out_coded_pj,
        aa.out_coded_bytes,
        aa.stationary,
        aa.fill_cycles,
        aa.refill_cycles,
    )


def counts_key(aa: ArchArrays) -> tuple[object, ...]:
    """What of a design the loop nest's counts of a candidate depend on (:class:`Counts`): the
    levels that hold each operand, the double-buffered ones, the array's level and the
    pipeline's stationary operand. Capacities, the tiles each level holds twice (double buffers and
    prefetched operands), which fills are exposed, energies, bandwidths, DRAM's compression and the
    lanes (``ArchArrays.lanes``: the candidates already map the packed problem, so its packed
    words are the counts' words) only enter the scoring that follows."""
    return (aa.holds.shape, aa.holds.tobytes(), aa.double_buffered.tobytes(), aa.fanout, aa.stationary)


@dataclass(frozen=True)
class Counts:
    """Per candidate, the parts of its score that depend only on the loop nest and
    :func:`counts_key` (the tiles' words, the access counts, the MAC cycles, the array's folds),
    computed the first time a scoring needs them: a candidate scored again on a design with the
    same key (another keep state of the op: less room, another DRAM compression) reuses them,
    so its energy and cycles are the very numbers a fresh scoring gives."""

    state: np.ndarray  # (n,) int8: UNKNOWN, TILED (tile words known), COUNTED, INVALID
    tile_words: np.ndarray  # (n, levels, 3)
    subtile_words: np.ndarray  # (n, levels, 3), double-buffered levels only
    acc: np.ndarray  # (n, levels + 1, 3, 4): counts.access_counts's layout
    final: np.ndarray  # (n,)
    compute: np.ndarray  # (n,)
    folds: np.ndarray  # (n, 2)

    @staticmethod
    def empty(n: int, nlev: int) -> Counts:
        """Nothing known yet of ``n`` candidates of ``nlev`` levels."""
        return Counts(
            state=np.zeros(n, np.int8),
            tile_words=np.zeros((n, nlev, 3)),
            subtile_words=np.zeros((n, nlev, 3)),
            acc=np.zeros((n, nlev + 1, 3, 4)),
            final=np.zeros(n),
            compute=np.zeros(n),
            folds=np.zeros((n, 2)),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays, in ``_score``'s order (the seven before its ``rows`` table)."""
        return (self.state, self.tile_words, self.subtile_words, self.acc, self.final, self.compute, self.folds)

    @property
    def nbytes(self) -> int:
        """Memory held (for the cache's bound)."""
        return sum(int(a.nbytes) for a in self.arrays())
