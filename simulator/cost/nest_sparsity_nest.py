"""Mapped nests under the steps' sparsity: each nest's own counts, with the design's zero gating,
block skipping, compaction and temporal deltas applied (:mod:`simulator.cost.nest_sparsity` puts
the nests of every op and step together). :func:`effects` applies it to many (nest, step) cases at
once, as arrays (:class:`~simulator.cost.nest_sparsity_batch.Nests`, :class:`Cases`);
:func:`sparse_nest` to one nest and one :class:`Mode`.

What each effect changes, in the nest's per-level, per-operand words
(:class:`~simulator.cost.nest.analysis.NestResult`):

- **Register-side accesses** (:func:`~simulator.cost.nest_sparsity_batch.register_words`): the
  words the datapath's operand registers exchange with each operand's innermost holder: loads of
  weights and inputs, and the partial sums' reloads and drains. One access serves ``k`` MACs
  (``k = MACs / loads``; for the partial sum, the MACs one register stint accumulates), so it is
  saved only when all ``k`` MACs are; with the MACs independent, at probability ``p^k`` (``p``
  per MAC). With ``k = 1`` (an operand read per MAC, as Eyeriss's filter spad) that is the
  fraction ``p`` itself. Only the per-PE levels (below ``fanout_level``) save them: a shared
  buffer's read is multicast to many PEs.
- **Zero gating** (energy only): a MAC whose activation is zero skips the read of its weight and
  its partial-sum update (Eyeriss: a zero ifmap gates the filter spad read and the MAC datapath,
  Chen et al., JSSC 52(1) 2017, Sec. V-C; Sparseloop's Eyeriss v1 model gates the weights spad on
  the inputs, timeloop-accelergy-exercises ``eyeriss_like_w_gating/sparse_opt/eyeriss_v1_like.yaml``;
  a gated MAC adds nothing, so its accumulation is not needed). A zero weight gates the
  activation's read likewise. The zero operand's own read stays: it is read to be tested.
- **Block skipping** (cycles and energy): the MAC cycles shrink by the skipped fraction of units
  (the array's fill and drain stay), the skipped MACs cost nothing, nor do the register-side
  accesses all of whose MACs were skipped (every operand: the array never issues the unit). Skip
  masks are read beside the activations the array streams (the inputs' innermost shared holder),
  ``meta_bits`` per kept element, as the one-level model reads them beside its array stream.
- **Compaction**: the inputs' words at every shared level and DRAM are stored and moved at
  ``a_scale`` of their dense bytes (energy, traffic and transfer time), and DRAM carries the masks
  (``meta_bits`` per element it sends). The tiles were chosen on dense bytes: the mapper does not
  see the compaction.
- **Temporal delta** (:func:`sparse_nest` with ``Mode.delta``): MACs at the delta precision's
  energy, the MAC cycles divided by its packing (``delta_mpc``; units re-issued at the array's
  precision run again, ``slow``), deltas skipped and gated at their own zero fractions, on-chip
  inputs at the delta width (units with an element that does not fit at the activation width),
  DRAM reading the previous input as it reads the input and the previous outputs, and writing the
  new state, both at the accumulator width (``delta_extra_bytes``, as
  :mod:`simulator.cost.gemm` charges them).

Each level's transfer time follows its bytes (per-PE levels in proportion, shared levels and DRAM
at their bandwidth); a shared level's exposed fills follow its words' bytes in proportion.

Speed: :func:`effects` takes every nest at every step in one pass of array operations (the grid
``[J, steps]``), and the delta-mode cases as a list of (nest, step); on the DDPM CIFAR-10 trace
(125 nests, 4 steps) :func:`simulator.cost.nest_sparsity.apply` takes about 3.5 ms where the
loop over ops, steps and nests took about 95 ms (``tests/unit/simulator/cost/nest/
test_nest_sparsity_batch.py`` holds the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simulator.cost.hardware import Hardware
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.problem import INP, OUT, WGT
from simulator.cost.nest_sparsity_batch import Nests, nests


@dataclass(frozen=True)
class Mode:
    """One nest's sparsity at one step (probabilities per MAC; see the module docstring)."""

    skip: float = 0.0  # fraction of MACs in skipped units
    gate: float = 0.0  # fraction of executed MACs gated (either operand zero)
    gate_act: float = 0.0  # ... gated by a zero activation (act_zero_gating)
    gate_wgt: float = 0.0  # ... gated by a zero weight (weight_zero_gating)
    a_scale: float = 1.0  # inputs' bytes at shared levels and DRAM per dense byte (compaction)
    meta_bits: float = 0.0  # skip-mask bits per activation element the array streams
    compact_meta: bool = False  # DRAM also carries the compaction masks
    delta: bool = False  # temporal-delta mode
    slow: float = 0.0  # delta units re-issued at the activation width and array precision


@dataclass(frozen=True)
class Cases:
    """(nest, step) cases under one kind of mode: their nests and :class:`Mode`'s probabilities
    per case; the constants shared by the kind (dense or delta mode).

    ``nest``: ``C`` indices into :class:`~simulator.cost.nest_sparsity_batch.Nests`, the
    probabilities ``(C,)``; or None: every nest, the probabilities ``(J, steps)``. The
    :class:`Effects` have the probabilities' shape in front."""

    nest: np.ndarray | None
    skip: np.ndarray  # each as Mode's
    gate: np.ndarray
    gate_act: np.ndarray
    gate_wgt: np.ndarray
    a_scale: np.ndarray
    slow: np.ndarray
    meta_bits: float
    compact_meta: bool
    delta: bool


@dataclass(frozen=True)
class Effects:
    """Each case's nest with its mode applied (energies in pJ, traffic in bytes, cycles), and the
    savings and additions the simulator's columns report beside it; ``(..., L)`` per level."""

    pe_reads_words: np.ndarray  # (..., fan, 3) the per-PE levels' words (the others' do not change)
    pe_writes_words: np.ndarray  # (..., fan, 3)
    mac_energy_pj: np.ndarray
    energy_pj: np.ndarray  # (..., L)
    traffic_bytes: np.ndarray  # (..., L)
    transfer_cycles: np.ndarray  # (..., L)
    exposed_cycles: np.ndarray  # (..., L)
    compute_cycles: np.ndarray
    gated_pj: np.ndarray  # MAC and register-side access energy gating saved
    skipped_pj: np.ndarray  # MAC and register-side access energy of skipped units
    skipped_cycles: np.ndarray
    meta_bytes: np.ndarray  # skip masks and compaction masks moved
    delta_extra_bytes: np.ndarray  # DRAM bytes delta mode adds


@dataclass(frozen=True)
class SparseNest:
    """``result``: the nest with the mode applied (energies in pJ, traffic in bytes, cycles);
    the savings and additions the simulator's columns report beside it."""

    result: NestResult
    gated_pj: float  # MAC and register-side access energy gating saved
    skipped_pj: float  # MAC and register-side access energy of skipped units
    skipped_cycles: float
    meta_bytes: float  # skip masks and compaction masks moved
    delta_extra_bytes: float  # DRAM bytes delta mode adds


def _energy(
    rd: np.ndarray, wr: np.ndarray, rpj: np.ndarray, wpj: np.ndarray, unit: np.ndarray, width: np.ndarray | None
) -> np.ndarray:
    """pJ of reading ``rd`` and writing ``wr`` words of ``unit`` bits, at ``width`` (None: 1)."""
    e = (rd * rpj + wr * wpj) * unit
    return e if width is None else e * width


def effects(n: Nests, c: Cases, hw: Hardware) -> Effects:
    """The nests of ``n`` (dense) under the cases' modes.

    The per-PE levels' words change (the register-side accesses saved); a shared level's and
    DRAM's only through the inputs' width, so there the change is the inputs' energy and bytes
    times the width's change."""
    nest = c.nest

    def take(a: np.ndarray) -> np.ndarray:
        return a[:, None] if nest is None else np.take(a, nest, axis=0)  # the steps after the nests

    fan, nlev = n.fanout_level, len(n.names)
    pe, sh = slice(0, fan), slice(fan, None)
    s = c.skip
    shape = s.shape
    skipping = bool(s.any())
    s_pe = s[..., None]
    w_in = np.ones((*shape, nlev))  # the inputs' width per level, per dense width
    if c.delta:  # deltas on chip at their width (a unit that does not fit at the activation's)
        w_in[..., :-1] = ((hw.delta_bits + c.slow * (hw.a_bits - hw.delta_bits)) / hw.a_bits)[..., None]
        w_in[..., sh] *= c.a_scale[..., None]
    else:
        w_in[..., sh] = c.a_scale[..., None]
    w_pe = w_in[..., pe]

    # Register-side accesses saved at the per-PE levels, per operand (..., fan): a weight load by
    # zero activations, an input load by zero weights, a partial-sum update by either; all k
    # MACs of an access at once (independent MACs; k = 1 where every one of these nests reads
    # the operand per MAC).
    rd1, wr1 = [], []
    e1 = words1 = e_gated = e_skipped = np.zeros(())
    for x, gate in ((WGT, c.gate_act), (INP, c.gate_wgt), (OUT, c.gate)):
        k, live = take(n.k[x]), take(n.live[x])
        reg_rd, reg_wr = take(n.reg_rd[x]), take(n.reg_wr[x])
        rd0, wr0 = take(n.rd_pe[x]), take(n.wr_pe[x])
        unit, rpj, wpj = take(n.unit_pe[x]), take(n.rpj_pe[x]), take(n.wpj_pe[x])

        w = w_pe if x == INP else None  # the inputs' width; the others' is 1

        base = s_pe + (1.0 - s_pe) * gate[..., None]
        p_all = base if n.k_one[x] else base**k
        if skipping:
            p_skip = s_pe if n.k_one[x] else s_pe**k
            skip_frac, gate_frac = p_skip * live, (p_all - p_skip) * live
            skip_rd, skip_wr = reg_rd * skip_frac, reg_wr * skip_frac
            gate_rd, gate_wr = reg_rd * gate_frac, reg_wr * gate_frac
            r1, w1 = rd0 - skip_rd - gate_rd, wr0 - skip_wr - gate_wr
            e_skipped = e_skipped + _energy(skip_rd, skip_wr, rpj, wpj, unit, w)
        else:
            gate_frac = p_all * live
            gate_rd, gate_wr = reg_rd * gate_frac, reg_wr * gate_frac
            r1, w1 = rd0 - gate_rd, wr0 - gate_wr
        e_gated = e_gated + _energy(gate_rd, gate_wr, rpj, wpj, unit, w)
        e1 = e1 + _energy(r1, w1, rpj, wpj, unit, w)
        moved = (r1 + w1) * unit
        words1 = words1 + (moved if w is None else moved * w)
        rd1.append(r1)
        wr1.append(w1)

    words_old = take(n.moved_bytes)
    words_new = np.empty((*shape, nlev))
    d_energy = np.empty((*shape, nlev))
    d_traffic = np.empty((*shape, nlev))
    words_new[..., pe] = words1 / 8.0
    d_energy[..., pe] = e1 - take(n.energy0_pj[:, pe])
    widths = c.delta or bool((c.a_scale != 1.0).any())  # else the shared levels' words stay as they are
    if widths:
        d_in = w_in[..., sh] - 1.0
        d_energy[..., sh] = take(n.input_energy0_pj[:, sh]) * d_in
        d_traffic[..., sh] = take(n.input_bytes[:, sh]) * d_in
        words_new[..., sh] = words_old[..., sh] + d_traffic[..., sh]
    else:
        d_energy[..., sh] = 0.0
        d_traffic[..., sh] = 0.0
        words_new[..., sh] = words_old[..., sh]
    d_traffic[..., pe] = words_new[..., pe] - words_old[..., pe]
    meta = np.zeros(shape)
    if c.meta_bits > 0:  # skip masks beside the activations the array streams
        masks = c.meta_bits * take(n.ls_in_words) * (1.0 - s) / 8.0
        masks_pj = masks * 8.0 * take(n.ls_in_rpj)
        for level, where in n.ls_levels:  # the nests whose inputs' first shared holder is level
            on = 1.0 if where is None else take(where)
            d_energy[..., level] += masks_pj * on
            d_traffic[..., level] += masks * on
        meta = meta + masks
    if c.compact_meta and c.meta_bits > 0:  # DRAM's compaction masks (where DRAM holds the inputs)
        masks = c.meta_bits * take(n.dram_in_words) / 8.0 * take(n.dram_has_in)
        d_energy[..., -1] += masks * 8.0 * take(n.dram_in_rpj)
        d_traffic[..., -1] += masks
        meta = meta + masks
    extra = np.zeros(shape)
    if c.delta:  # the previous input as the input is read; previous outputs in, new state out
        d_energy[..., -1] += take(n.delta_dram_pj)
        d_traffic[..., -1] += take(n.delta_dram_bytes)
        extra = extra + take(n.delta_dram_bytes)

    macs = take(n.macs)
    mac_pj = hw.delta_mac_pj if c.delta else take(n.mac_pj)
    executed = macs * (1.0 - s)
    cc = take(n.compute)
    mac_work = cc - take(n.fill)
    run = mac_work / (hw.delta_mpc / hw.mpc) if c.delta else mac_work
    skipped_cycles = s * run
    compute = cc - (mac_work - run) - skipped_cycles
    if c.delta and hw.delta_mpc > hw.mpc:  # units with an outlier run again at the array's precision
        compute = compute + c.slow * mac_work
    # per-PE levels' transfer time and shared levels' exposed fills follow their bytes (a level
    # with no words keeps its own); shared levels' transfers are at their bandwidth
    ratio = words_new / take(n.moved_divisor) + take(n.moved_none)
    transfer0 = take(n.transfer_cycles)
    transfer = np.empty((*shape, nlev))
    transfer[..., pe] = transfer0[..., pe] * ratio[..., pe]
    if widths or c.meta_bits > 0:
        transfer[..., sh] = transfer0[..., sh] + d_traffic[..., sh] / take(n.bandwidth[:, sh])
    else:
        transfer[..., sh] = transfer0[..., sh]

    def levels_sum(e: np.ndarray) -> np.ndarray:
        if e.ndim == 0:  # nothing saved
            return e
        if fan == 0:  # no per-PE level: no per-PE reads to gate
            return np.zeros(e.shape[:-1])
        out = e[..., 0]
        for i in range(1, fan):
            out = out + e[..., i]
        return out

    return Effects(
        pe_reads_words=np.stack(rd1, axis=-1),
        pe_writes_words=np.stack(wr1, axis=-1),
        mac_energy_pj=executed * (1.0 - c.gate) * mac_pj,
        energy_pj=take(n.energy_pj) + d_energy,
        traffic_bytes=take(n.traffic_bytes) + d_traffic,
        transfer_cycles=transfer,
        exposed_cycles=take(n.exposed_cycles) * ratio,
        compute_cycles=compute,
        gated_pj=executed * c.gate * mac_pj + levels_sum(e_gated),
        skipped_pj=macs * s * mac_pj + levels_sum(e_skipped),
        skipped_cycles=skipped_cycles,
        meta_bytes=meta,
        delta_extra_bytes=extra,
    )


def cases(nest: np.ndarray, mode: Mode) -> Cases:
    """The nests ``nest`` all under ``mode``."""

    def each(v: float) -> np.ndarray:
        return np.full(len(nest), v, dtype=np.float64)

    return Cases(
        nest=nest,
        skip=each(mode.skip),
        gate=each(mode.gate),
        gate_act=each(mode.gate_act),
        gate_wgt=each(mode.gate_wgt),
        a_scale=each(mode.a_scale),
        slow=each(mode.slow),
        meta_bits=mode.meta_bits,
        compact_meta=mode.compact_meta,
        delta=mode.delta,
    )


def sparse_nest(r: NestResult, arch: NestArch, hw: Hardware, mode: Mode) -> SparseNest:
    """``r`` (dense, on ``arch``) under ``mode``."""
    e = effects(nests([r], [arch]), cases(np.zeros(1, dtype=np.int64), mode), hw)
    names = [lv.name for lv in arch.levels]

    def by_level(a: np.ndarray, keys: list[str]) -> dict[str, float]:
        return {k: float(a[0, names.index(k)]) for k in keys}

    fan = arch.fanout_level
    reads, writes = r.reads_words.copy(), r.writes_words.copy()
    reads[:fan], writes[:fan] = e.pe_reads_words[0], e.pe_writes_words[0]
    transfer = by_level(e.transfer_cycles, names)
    exposed_by = by_level(e.exposed_cycles, list(r.exposed_cycles_by_level))
    exposed = sum(exposed_by.values())
    compute = float(e.compute_cycles[0])
    cycles = max(compute, *transfer.values()) + exposed
    result = replace(
        r,
        reads_words=reads,
        writes_words=writes,
        energy_pj_by_level={"mac": float(e.mac_energy_pj[0]), **by_level(e.energy_pj, names)},  # r's order
        compute_cycles=compute,
        transfer_cycles=transfer,
        exposed_cycles=exposed,
        exposed_cycles_by_level=exposed_by,
        traffic_bytes=by_level(e.traffic_bytes, names),
        cycles=cycles,
        utilization=r.macs / (arch.rows * arch.cols * cycles) if cycles > 0 else r.utilization,
    )
    return SparseNest(
        result=result,
        gated_pj=float(e.gated_pj[0]),
        skipped_pj=float(e.skipped_pj[0]),
        skipped_cycles=float(e.skipped_cycles[0]),
        meta_bytes=float(e.meta_bytes[0]),
        delta_extra_bytes=float(e.delta_extra_bytes[0]),
    )
