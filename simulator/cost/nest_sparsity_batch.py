"""The mapped nests of a design as arrays, for :mod:`simulator.cost.nest_sparsity_nest` to apply
the design's sparsity to all of them and every step at once.

:class:`Nests` holds ``J`` dense nests that share one level structure (the same level names and
fan-out level): their per-level, per-operand words, the register-side words
(:func:`register_words`), each level's energy, bytes and transfer time, and the per-bit energies
and widths of the arch each nest was mapped on. :func:`group` builds one per level structure.

:func:`register_words` runs the loop-nest counts again (:func:`~simulator.cost.nest.counts.peeled_counts`);
its result depends only on the nest's shape, mapping, the levels' holds and the fan-out level, so
the process keeps the last :data:`CAPACITY` of them (:class:`RegisterMemo`), as the mapper keeps
its mappings (:mod:`simulator.cost.nest.memo`): a design evaluated again, or one that shares its
mappings, finds them, and the values are those the counts return, whatever ran before
(``SHARED.clear()`` forgets them).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from simulator.cost.nest.analysis import NestResult, nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.counts import DRAINS, FILLS, READS, WRITES, peeled_counts
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import INP, OUT, WGT

#: Register-side counts kept; one is a few hundred bytes, so this is a few MiB at most.
CAPACITY = 20_000


@dataclass
class RegisterMemo:
    """A bounded map from a nest's counting key to its register-side words.

    The key takes the mapping by identity (the mapper hands out the mappings it keeps,
    :mod:`simulator.cost.nest.memo`, so a design evaluated again brings the same objects; the memo
    holds each mapping it keys on, so an identity is never reused while its entry lives): hashing
    a mapping's factors for every nest of every design would cost more than the lookup saves. A
    mapping equal to a known one but not the same object is counted again."""

    capacity: int = CAPACITY
    _found: dict[Hashable, tuple[Mapping, np.ndarray]] = field(default_factory=dict)

    def counts(
        self, r: NestResult, arch: NestArch, holds: tuple[tuple[bool, bool, bool], ...] | None = None
    ) -> np.ndarray:
        """Register words ``(levels, 3, 2)`` of ``r`` on ``arch``, all copies (not to be written
        to); ``holds``: ``arch``'s levels' (taken from it when not given). Counted anew, the reads
        are checked against ``r``'s."""
        if holds is None:
            holds = tuple(lv.holds for lv in arch.levels)
        key = (id(r.mapping), r.problem.key(), holds, arch.fanout_level)
        found = self._found.get(key)
        if found is None or found[0] is not r.mapping:
            reg, reads = _register_counts(r, arch)
            assert np.allclose(r.reads_words, reads, rtol=1e-12, atol=0.0), "counts drifted: the nest's reads"
            if len(self._found) >= self.capacity:
                del self._found[next(iter(self._found))]  # the oldest (dicts keep insertion order)
            found = self._found[key] = (r.mapping, reg)
        return found[1]

    def clear(self) -> None:
        """Forget every count."""
        self._found.clear()


SHARED = RegisterMemo()
"""The process's register-side counts."""


def _register_counts(r: NestResult, arch: NestArch) -> tuple[np.ndarray, np.ndarray]:
    """``(register words (levels, 3, 2), reads (levels, 3))`` by the loop-nest counts."""
    b, coef, f, o, sp, holds = nest_arrays(r.problem, arch, r.mapping)
    acc, _, _, _, valid = peeled_counts(b, coef, f, o, sp, holds, -1, arch.fanout_level)
    assert valid, "the counts refuse a mapped nest"
    acc = acc[1:] * r.problem.copies
    out = np.zeros((len(arch.levels), 3, 2))
    for x in (WGT, INP, OUT):
        i = next(i for i, lv in enumerate(arch.levels) if lv.holds[x])
        out[i, x, 0] = acc[i, x, READS] - acc[i, x, DRAINS]
        out[i, x, 1] = acc[i, x, WRITES] - acc[i, x, FILLS]
    return out, acc[:, :, READS].copy()


def register_words(r: NestResult, arch: NestArch) -> np.ndarray:
    """``(levels, 3, 2)``: words the datapath's registers read from (``[..., 0]``) and write to
    (``[..., 1]``) each operand's innermost holder (loads of weights and inputs; the partial sums'
    reloads and drains), all copies; 0 at every other level. ``arch``: the one ``r`` was mapped on
    (its holds and factors give the counts)."""
    return SHARED.counts(r, arch).copy()


def stored_as(r: NestResult, arch: NestArch) -> bool:
    """Whether ``r``'s DRAM bytes are those ``arch``'s DRAM stores (its coding and the operands it
    carries at factor 0): whether ``arch`` can stand for the one ``r`` was mapped on at DRAM."""
    b, coef, f, o, sp, holds = nest_arrays(r.problem, arch, r.mapping)
    _, final, _, _, _ = peeled_counts(b, coef, f, o, sp, holds, -1, arch.fanout_level)
    final *= r.problem.copies
    bits = np.asarray(arch.word_bits, dtype=np.float64)
    comp = arch.levels[-1].compression
    plain = float(((r.reads_words[-1] + r.writes_words[-1]) * bits * np.asarray(comp)).sum())
    want = (plain - final * (bits[OUT] - arch.output_bits * comp[OUT])) / 8.0
    return math.isclose(want, r.traffic_bytes["dram"], rel_tol=1e-9, abs_tol=1e-9)


@dataclass(frozen=True)
class _ArchArrays:
    unit: np.ndarray  # (L, 3) bits stored per word
    rpj: np.ndarray  # (L, 3) read pJ per bit
    wpj: np.ndarray  # (L, 3) write pJ per bit
    bandwidth: np.ndarray  # (L,) bytes per cycle per instance
    ls: int  # the inputs' innermost shared holder
    out_bits: float  # partial-sum bits
    holds: tuple[tuple[bool, bool, bool], ...]


@functools.lru_cache(maxsize=4096)
def _arch_arrays(levels: tuple[NestLevel, ...], word_bits: tuple[float, float, float], fan: int) -> _ArchArrays:
    """What the nests read of the arch they were mapped on (a pure function of its arguments; the
    designs of a sweep share a few)."""
    bits = np.asarray(word_bits, dtype=np.float64)
    return _ArchArrays(
        unit=bits * np.array([lv.compression for lv in levels]),
        rpj=np.array([lv.read_pj_per_bit for lv in levels], dtype=np.float64),
        wpj=np.array([lv.write_pj_per_bit for lv in levels], dtype=np.float64),
        bandwidth=np.array([lv.bandwidth_bytes_per_cycle for lv in levels], dtype=np.float64),
        ls=next(i for i in range(fan, len(levels)) if levels[i].holds[INP]),
        out_bits=float(bits[OUT]),
        holds=tuple(lv.holds for lv in levels),
    )


@dataclass(frozen=True)
class Nests:
    """``J`` dense mapped nests on ``L`` levels of the same names (innermost first, DRAM last)
    and fan-out level ``fan`` (the levels below it are per PE): per nest, what
    :func:`~simulator.cost.nest_sparsity_nest.effects` reads. ``(J, fan, 3)``: per per-PE level
    and operand (weights, inputs, outputs); ``(J, L)``: per level; else ``(J,)``."""

    names: tuple[str, ...]
    fanout_level: int
    rd_pe: tuple[np.ndarray, ...]  # per operand (J, fan): words read, all copies
    wr_pe: tuple[np.ndarray, ...]  # per operand (J, fan): words written
    reg_rd: tuple[np.ndarray, ...]  # per operand (J, fan): register-side words read (:func:`register_words`)
    reg_wr: tuple[np.ndarray, ...]  # per operand (J, fan): register-side words written
    live: tuple[np.ndarray, ...]  # per operand (J, fan): 1.0 where the registers talk to its holder, else 0.0
    k: tuple[np.ndarray, ...]  # per operand (J, fan): MACs per register-side access (>= 1; 1 where none)
    k_one: tuple[bool, ...]  # per operand: k is 1 for every nest
    unit_pe: tuple[np.ndarray, ...]  # per operand (J, fan): bits stored per word
    rpj_pe: tuple[np.ndarray, ...]  # per operand (J, fan): pJ per bit read
    wpj_pe: tuple[np.ndarray, ...]  # per operand (J, fan): pJ per bit written
    energy0_pj: np.ndarray  # (J, L) each level's energy of its words (the final outputs at the partial-sum width)
    input_energy0_pj: np.ndarray  # (J, L) ... of the inputs' words
    moved_bytes: np.ndarray  # (J, L) each level's bytes of its words, likewise
    input_bytes: np.ndarray  # (J, L) ... of the inputs' words
    moved_divisor: np.ndarray  # (J, L) moved_bytes, 1 where 0
    moved_none: np.ndarray  # (J, L) 1.0 where moved_bytes is 0, else 0.0
    #: The inputs' innermost shared holder (it streams them to the array): each level that is one,
    #: with 1.0 for the nests it is (None: every nest).
    ls_levels: tuple[tuple[int, np.ndarray | None], ...]
    ls_in_words: np.ndarray  # (J,) the inputs' words that level reads
    ls_in_rpj: np.ndarray  # (J,) its pJ per bit read of inputs
    dram_in_words: np.ndarray  # (J,) the inputs' words DRAM reads
    dram_in_rpj: np.ndarray  # (J,) DRAM's pJ per bit read of inputs
    dram_has_in: np.ndarray  # (J,) 1.0 where DRAM stores the inputs (not kept on chip), else 0.0
    delta_dram_pj: np.ndarray  # (J,) DRAM energy delta mode adds: the previous input, outputs and new state
    delta_dram_bytes: np.ndarray  # (J,) DRAM bytes delta mode adds
    bandwidth: np.ndarray  # (J, L) bytes per cycle of one instance
    macs: np.ndarray  # (J,)
    mac_pj: np.ndarray  # (J,) pJ per MAC at the array's precision
    mac_energy_pj: np.ndarray  # (J,) the MACs' energy
    compute: np.ndarray  # (J,) cycles: MACs and the array's fill
    fill: np.ndarray  # (J,) cycles of the array's fill and drain
    energy_pj: np.ndarray  # (J, L) each level's energy
    traffic_bytes: np.ndarray  # (J, L)
    transfer_cycles: np.ndarray  # (J, L) per instance
    exposed_cycles: np.ndarray  # (J, L) exposed fills and drains (0 where the level has none)


def group(results: list[NestResult], archs: list[NestArch]) -> list[tuple[list[int], Nests]]:
    """The nests by level structure: ``(indices into results, their Nests)``, first seen first."""
    keys: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for j, a in enumerate(archs):
        keys.setdefault((tuple(lv.name for lv in a.levels), a.fanout_level), []).append(j)
    return [(idx, nests([results[j] for j in idx], [archs[j] for j in idx])) for idx in keys.values()]


def _getter(keys: tuple[str, ...]) -> Callable[[dict[str, float]], tuple[float, ...]]:
    """A function of a dict: its values at ``keys``, in order."""
    if len(keys) == 1:
        return lambda d: (d[keys[0]],)
    if not keys:
        return lambda d: ()
    return operator.itemgetter(*keys)


def _operands(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """``a`` ``(J, fan, 3)`` per operand, each contiguous."""
    return tuple(np.ascontiguousarray(a[:, :, x]) for x in (WGT, INP, OUT))


def _sum3(a: np.ndarray) -> np.ndarray:
    """``a`` summed over its last axis of 3, in order (as ``sum`` adds them)."""
    return np.asarray(a[..., 0] + a[..., 1] + a[..., 2])


def nests(results: list[NestResult], archs: list[NestArch]) -> Nests:
    """``results`` (each mapped on its ``archs``; one level structure) as arrays."""
    first = archs[0]
    names = tuple(lv.name for lv in first.levels)
    fan, nlev, count = first.fanout_level, len(names), len(results)
    arch_at: dict[tuple[object, ...], int] = {}
    arch_arrays: list[_ArchArrays] = []
    which: list[int] = []
    regs, rd, wr, energy, traffic, transfer, exposed, scalars = [], [], [], [], [], [], [], []
    by_level, by_exposed = _getter(names), _getter(names[fan:-1])
    counts = SHARED.counts
    for r, a in zip(results, archs, strict=True):
        key = (a.levels, a.word_bits, a.fanout_level)
        i = arch_at.get(key)
        if i is None:
            i = arch_at[key] = len(arch_arrays)
            arch_arrays.append(_arch_arrays(*key))
        which.append(i)
        regs.append(counts(r, a, arch_arrays[i].holds))
        rd.append(r.reads_words)
        wr.append(r.writes_words)
        e = r.energy_pj_by_level
        energy.append(by_level(e))
        traffic.append(by_level(r.traffic_bytes))
        transfer.append(by_level(r.transfer_cycles))
        exposed.append(by_exposed(r.exposed_cycles_by_level))
        p = r.problem
        scalars.append((r.macs, r.compute_cycles, r.fill_cycles, p.footprint(OUT) * p.copies, e["mac"], a.mac_pj))
    rd_a, wr_a = np.array(rd, dtype=np.float64), np.array(wr, dtype=np.float64)
    at = np.array(which, dtype=np.int64)
    ex_a = np.zeros((count, nlev))
    ex_a[:, fan : nlev - 1] = np.array(exposed, dtype=np.float64).reshape(count, -1)
    sc = np.array(scalars, dtype=np.float64).reshape(count, 6)

    def stack(get: str) -> np.ndarray:
        return np.take(np.stack([getattr(x, get) for x in arch_arrays]), at, axis=0)

    unit, rpj, wpj = stack("unit"), stack("rpj"), stack("wpj")
    e0 = (rd_a * rpj + wr_a * wpj) * unit
    moved = _sum3((rd_a + wr_a) * unit) / 8.0
    reg_a = np.array(regs)[:, :fan]
    rd_pe, wr_pe = rd_a[:, :fan], wr_a[:, :fan]
    # an access's stint: a weight's or input's load, a partial sum's drain into its holder
    stints = np.concatenate([reg_a[:, :, :OUT, 0], reg_a[:, :, OUT:, 1]], axis=2)
    live = stints > 0
    k = np.where(live, np.maximum(sc[:, 0, None, None] / np.where(live, stints, 1.0), 1.0), 1.0)
    ls = np.take(np.array([x.ls for x in arch_arrays], dtype=np.int64), at)
    every = np.arange(count)
    out_bits = np.take(np.array([x.out_bits for x in arch_arrays]), at)
    state = sc[:, 3] * out_bits / 8.0
    prev_in = rd_a[:, -1, INP] * unit[:, -1, INP] / 8.0
    return Nests(
        names=names,
        fanout_level=fan,
        rd_pe=_operands(rd_pe),
        wr_pe=_operands(wr_pe),
        reg_rd=_operands(reg_a[..., 0]),
        reg_wr=_operands(reg_a[..., 1]),
        live=_operands(live.astype(np.float64)),
        k=_operands(k),
        k_one=tuple(bool((k[:, :, x] == 1.0).all()) for x in (WGT, INP, OUT)),
        unit_pe=_operands(unit[:, :fan]),
        rpj_pe=_operands(rpj[:, :fan]),
        wpj_pe=_operands(wpj[:, :fan]),
        energy0_pj=_sum3(e0),
        input_energy0_pj=e0[:, :, INP],
        moved_bytes=moved,
        input_bytes=(rd_a + wr_a)[:, :, INP] * unit[:, :, INP] / 8.0,
        moved_divisor=np.where(moved > 0, moved, 1.0),
        moved_none=(moved <= 0).astype(np.float64),
        ls_levels=tuple((int(v), None if (ls == v).all() else (ls == v).astype(np.float64)) for v in np.unique(ls)),
        ls_in_words=rd_a[every, ls, INP],
        ls_in_rpj=rpj[every, ls, INP],
        dram_in_words=rd_a[:, -1, INP],
        dram_in_rpj=rpj[:, -1, INP],
        dram_has_in=(unit[:, -1, INP] > 0).astype(np.float64),
        delta_dram_pj=prev_in * 8.0 * rpj[:, -1, INP] + state * 8.0 * (rpj[:, -1, OUT] + wpj[:, -1, OUT]),
        delta_dram_bytes=prev_in + 2.0 * state,
        bandwidth=stack("bandwidth"),
        macs=sc[:, 0],
        mac_pj=sc[:, 5],
        mac_energy_pj=sc[:, 4],
        compute=sc[:, 1],
        fill=sc[:, 2],
        energy_pj=np.array(energy, dtype=np.float64),
        traffic_bytes=np.array(traffic, dtype=np.float64),
        transfer_cycles=np.array(transfer, dtype=np.float64),
        exposed_cycles=ex_a,
    )
