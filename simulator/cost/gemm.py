"""Cost of GEMM rows for given tiles: cycles, bytes per level, DRAM time and energy.

One function, :func:`gemm_cost`, serves both the mapper (every candidate tile of every
distinct shape, dense) and the analytic model (the chosen tiles at every traced step, with
sparsity), so the mapping minimises exactly what the model reports. Arrays broadcast.

Traffic of a buffer tile ``(Mt, Nt, Kt)`` with ``t_M, t_N, t_K`` tiles per dimension and one
of three loop orders (only the innermost loop matters for one level of tiling):

====================  =====================  =====================  ========================
innermost loop        A from DRAM            B from DRAM            C
====================  =====================  =====================  ========================
K                     A'·t_N                 K·N·t_M                written once
N                     A'                     K·N·t_M                spilled t_K − 1 times
M                     A'·t_N                 K·N                    spilled t_K − 1 times
====================  =====================  =====================  ========================

``A'`` is the activation footprint (``M·K``, or a convolution's input tensor with its halo,
:func:`simulator.cost.traffic.conv_input_factor`); a spill writes and reads the partial sums
at accumulator width. The fold order inside a tile (:mod:`simulator.cost.array`) moves nothing extra:
folds that would stream over several M (N) tiles are the one-fold tiles ``Nt ≤ C`` (``Mt ≤ C``),
``Kt ≤ R·p``, costed by the table above. Array-side streaming per dataflow (elements): OS reads
``A·⌈N/C⌉ + B·⌈M/R⌉``; WS loads B once per M tile and streams ``A·⌈N/C⌉``; IS loads A once
per N tile and streams ``B·⌈M/C⌉``; partial sums between K folds go to the stream level.
Attention with ``fused_attention`` is one tiled op (FlashAttention-style, Dao et al.,
NeurIPS 2022): per query tile the key and value blocks stream past, scores stay on chip.

Capacity: the tiles of the operands a level is home to (twice when double-buffered, and twice
for an operand it prefetches: ``Level.prefetched``) plus any resident activation tensor (inter-op
reuse) must fit the level. A prefetched operand's DRAM time (``RowCost.dram_prefetch_cycles``)
overlaps compute in a single-buffered design (:func:`simulator.cost.overlap.overlap_cycles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.cost.array import K_INNER, M_INNER, N_INNER, OS, WS, cdiv, gemm_cycles
from simulator.cost.capacity import fits as level_fits
from simulator.cost.hardware import ACT, OUT, WGT, Hardware, bank_rate, dram_efficiency
from simulator.cost.traffic import conv_input_factor, resident_weights
from simulator.optable import ConvGeometry


@dataclass(frozen=True)
class Dims:
    """GEMM rows (broadcastable arrays). For a fused attention row (``fused``), ``m, n, k`` are
    QKᵀ's (Lq, Lk, d) and ``n2`` is the value width of P·V."""

    batch: np.ndarray
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    a_unique: np.ndarray
    geo: ConvGeometry
    fused: np.ndarray
    n2: np.ndarray

    def take(self, idx: np.ndarray) -> Dims:
        """Rows ``idx`` (1-D) of 1-D dims."""
        return Dims(
            self.batch[idx],
            self.m[idx],
            self.n[idx],
            self.k[idx],
            self.a_unique[idx],
            self.geo.map(lambda x: x[idx]),
            self.fused[idx],
            self.n2[idx],
        )

    def transpose(self) -> Dims:
        """``[g, 1]`` dims as ``[1, g]``."""
        return Dims(
            self.batch.T,
            self.m.T,
            self.n.T,
            self.k.T,
            self.a_unique.T,
            self.geo.map(lambda x: x.T),
            self.fused.T,
            self.n2.T,
        )

    def expand(self, ndim: int) -> Dims:
        """1-D dims as ``[g, 1, ..., 1]`` with ``ndim`` trailing axes."""
        s = (slice(None),) + (None,) * ndim
        return Dims(
            self.batch[s],
            self.m[s],
            self.n[s],
            self.k[s],
            self.a_unique[s],
            self.geo.map(lambda x: x[s]),
            self.fused[s],
            self.n2[s],
        )


@dataclass(frozen=True)
class Mode:
    """Sparsity and delta mode of rows (broadcastable; scalars for dense)."""

    skip: np.ndarray | float = 0.0
    gate: np.ndarray | float = 0.0
    a_scale: np.ndarray | float = 1.0
    meta_bits_per_elem: float = 0.0
    delta: bool = False
    slow: np.ndarray | float = 0.0  # delta units re-issued at the array precision


@dataclass(frozen=True)
class RowCost:
    """Per-row cost (all arrays, whole op: batch included)."""

    compute_cycles: np.ndarray
    skipped_cycles: np.ndarray
    dram_rd_bytes: np.ndarray
    dram_wr_bytes: np.ndarray
    dram_rd_cycles: np.ndarray
    dram_wr_cycles: np.ndarray
    #: The part of ``dram_rd_cycles + dram_wr_cycles`` of operands whose tile level prefetches them
    #: (``Level.prefetched``): it overlaps compute (:func:`simulator.cost.overlap.overlap_cycles`).
    dram_prefetch_cycles: np.ndarray
    level_rd_bytes: tuple[np.ndarray, ...]
    level_wr_bytes: tuple[np.ndarray, ...]
    level_cycles: np.ndarray  # slowest level
    n_tiles: np.ndarray
    n_runs: np.ndarray  # fold runs the array consumes in sequence (overlap sub-tiles)
    legal: np.ndarray
    macs_exec: np.ndarray  # executed (not skipped) MACs
    energy_pj: dict[str, np.ndarray]  # compute, rf, <level names>, dram (no leakage)
    gated_pj: np.ndarray  # MAC (+RF) energy not spent thanks to gating
    skipped_pj: np.ndarray  # MAC (+RF) energy of skipped MACs
    meta_bytes: np.ndarray  # skip masks / compaction metadata moved (all levels)
    delta_extra_bytes: np.ndarray  # DRAM bytes delta mode adds


class _Zero(dict):
    """Stands for the P·V part when no row is fused: every count is 0."""

    def __missing__(self, key: str) -> object:
        return _ZERO_CYCLES if key == "cyc" else 0.0


def _part(
    hw: Hardware,
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    mt: np.ndarray,
    nt: np.ndarray,
    kt: np.ndarray,
    order: np.ndarray | int,
    mpc: int,
    preload: bool,
) -> dict[str, Any]:
    """Element counts of one GEMM (one batch item) under tiles, before operand widths."""
    cyc = gemm_cycles(hw.dataflow, hw.rows, hw.cols, mpc, m, n, k, mt, nt, kt, order, preload=preload)
    tm, tn, tk = cdiv(m, mt), cdiv(n, nt), cdiv(k, kt)
    R, C = hw.rows, hw.cols
    if hw.dataflow == OS:
        sa, sb = m * k * cdiv(n, C), k * n * cdiv(m, R)
    elif hw.dataflow == WS:
        sa, sb = m * k * cdiv(n, C), k * n * tm
    else:
        sa, sb = m * k * tn, k * n * cdiv(m, C)
    psum = m * n * (cyc.k_folds - 1)
    return {
        "cyc": cyc,
        "tm": tm,
        "tn": tn,
        "tk": tk,
        "sa": sa,
        "sb": sb,
        "psum": psum,
        "a_re": np.where(order == N_INNER, 1, tn),
        "b_re": np.where(order == M_INNER, 1, tm),
        "spill": np.where((order != K_INNER) & (tk > 1), m * n * (tk - 1), 0),
    }


_ZERO_CYCLES = type("_ZeroCycles", (), {"cycles": 0.0, "temporal": 0.0, "k_folds": 1.0, "folds": 0.0})()
_NO_PART = _Zero()


def gemm_cost(
    hw: Hardware,
    d: Dims,
    mt: np.ndarray,
    nt: np.ndarray,
    kt: np.ndarray,
    order: np.ndarray,
    res_in: np.ndarray | bool,
    res_out: np.ndarray | bool,
    mode: Mode | None = None,
    check_fit: bool = True,
    w_resident: np.ndarray | bool = False,
    out_shared: np.ndarray | bool = False,
) -> RowCost:
    """Cost of GEMM rows ``d`` with tiles ``(mt, nt, kt, order)``; see the module docstring.

    ``res_in``: the activation input is resident on chip (the previous op left it there);
    ``res_out``: the output stays on chip for the next op, and is not written to DRAM unless
    ``out_shared`` (another op reads it too: the write stays, the buffer still holds the kept
    tensor). ``check_fit=False`` skips the capacity check (``legal`` all true) for candidates
    already known to fit. ``w_resident``:
    the weights stay in level ``hw.resident_level`` across steps (:mod:`simulator.cost.residency`):
    no DRAM read and no fill; the array stream reads them from that level.
    """
    mode = mode or Mode()
    delta = mode.delta
    mpc = hw.delta_mpc if delta else hw.mpc
    fused = d.fused
    any_fused = bool(np.any(fused))

    def if_fused(value: np.ndarray | float, other: np.ndarray | float = 0.0) -> np.ndarray | float:
        return np.where(fused, value, other) if any_fused else other

    kt = np.asarray(if_fused(d.k, np.minimum(kt, d.k)))
    order = np.asarray(if_fused(N_INNER, order))
    p = _part(hw, d.m, d.n, d.k, mt, nt, kt, order, mpc, delta and hw.dataflow == OS)
    # P·V of fused attention: tiles (Mt, dv, Nt) with K (= Lk) innermost; P never leaves chip.
    n2 = np.maximum(d.n2, 1.0)  # rows that are not fused attention carry n2 = 0
    p2 = _part(hw, d.m, n2, d.n, mt, n2, np.minimum(nt, d.n), K_INNER, hw.mpc, False) if any_fused else _NO_PART
    cyc = p["cyc"]
    compute = cyc.cycles + if_fused(p2["cyc"].cycles)
    if delta and hw.mpc != mpc:  # units with an outlier run again at the array precision
        base = _part(hw, d.m, d.n, d.k, mt, nt, kt, order, hw.mpc, hw.dataflow == OS)["cyc"]
        compute = compute + mode.slow * base.temporal
    skipped = mode.skip * cyc.temporal
    compute = compute - skipped
    keep = 1.0 - np.asarray(mode.skip)
    a_f = conv_input_factor(d.m, d.k, mt, kt, d.a_unique, d.geo)
    a_once = d.a_unique * a_f

    ab, wb, ob, pb = hw.a_bits / 8, hw.w_bits / 8, hw.o_bits / 8, hw.p_bits / 8
    # Deltas travel at their width, units with an element that does not fit at the
    # activation width.
    a_stream_bits = hw.delta_bits + mode.slow * (hw.a_bits - hw.delta_bits) if delta else hw.a_bits
    sa_b = a_stream_bits / 8 * mode.a_scale
    # Array-side element streams and DRAM element counts per operand.
    s_a = p["sa"] * keep + if_fused(p2["sa"])
    s_b = p["sb"] * keep + if_fused(p2["sb"])
    out_final = d.m * d.n + if_fused(d.m * d.n2)  # fused: S on chip, then O
    psum = p["psum"] + if_fused(p2["psum"])
    f_a = np.where(res_in, 0.0, a_once * p["a_re"])
    f_b = d.k * d.n * p["b_re"] + if_fused(d.n * d.n2 * p["tm"])
    wb_out = np.where(np.logical_and(res_out, np.logical_not(out_shared)), 0.0, if_fused(d.m * d.n2, d.m * d.n))
    spill = if_fused(0.0, p["spill"])

    # Through the levels (bytes). Index 0 = innermost shared level.
    rd = [np.zeros(()) for _ in hw.levels]
    wr = [np.zeros(()) for _ in hw.levels]
    dram_rd: dict[int, Any] = {ACT: 0.0, WGT: 0.0, OUT: 0.0}
    streams = {ACT: (s_a * sa_b, f_a * ab * mode.a_scale), WGT: (s_b * wb, f_b * wb)}
    for x, (s_bytes, f_bytes) in streams.items():
        lo, hi = hw.stream[x], hw.home[x]
        if hi < 0:
            dram_rd[x] = dram_rd[x] + s_bytes
            continue
        if x == WGT and hw.resident_level >= 0 and np.any(w_resident):
            resident_weights(hw, rd, wr, dram_rd, s_bytes, f_bytes, np.asarray(w_resident))
            continue
        dram_rd[x] = dram_rd[x] + f_bytes
        for i in range(lo, hi + 1):
            if hw.levels[i].holds[x]:
                rd[i] = rd[i] + s_bytes
                wr[i] = wr[i] + (s_bytes if i < hi else f_bytes)
    meta = mode.meta_bits_per_elem * s_a / 8.0  # skip masks read beside the activations
    if hw.stream[ACT] >= 0:
        rd[hw.stream[ACT]] = rd[hw.stream[ACT]] + meta
    else:
        dram_rd[ACT] = dram_rd[ACT] + meta
    out_b = out_final * ob
    lo, hi = hw.stream[OUT], hw.home[OUT]
    spill_b = spill * pb
    dram_wr = wb_out * ob + spill_b
    dram_rd[OUT] = spill_b
    if hi < 0:
        dram_wr = dram_wr + 2 * psum * pb
        dram_rd[OUT] = dram_rd[OUT] + psum * pb
    else:
        rd[lo] = rd[lo] + psum * pb
        wr[lo] = wr[lo] + psum * pb
        for i in range(lo, hi + 1):
            if hw.levels[i].holds[OUT]:
                wr[i] = wr[i] + out_b + (spill_b if i == hi else 0.0)
                rd[i] = rd[i] + (out_b if i < hi else wb_out * ob + spill_b)
    extra = np.zeros(())
    if delta:  # previous input (for the delta), previous output in, new state out
        extra = f_a * ab + d.m * d.n * pb * 2
        dram_rd[ACT] = dram_rd[ACT] + f_a * ab + d.m * d.n * pb
        dram_wr = dram_wr + d.m * d.n * pb
    if mode.meta_bits_per_elem and hw.compact_acts:
        dram_rd[ACT] = dram_rd[ACT] + mode.meta_bits_per_elem * f_a / 8.0
        meta = meta + mode.meta_bits_per_elem * f_a / 8.0

    # DRAM time: each stream at the efficiency of its contiguous runs.
    run_a = np.where(kt < d.k, kt, d.m * d.k / p["tm"]) * ab
    run_a = np.where(
        d.geo.conv, np.where(kt < d.k, np.maximum(kt / (d.geo.kr * d.geo.ks), 1) * ab, a_once / p["tm"] * ab), run_a
    )
    run_b = np.where(nt < d.n, nt, kt * d.n) * wb
    run_c = np.where(nt < d.n, nt, mt * d.n) * ob
    bw = hw.dram_bytes_per_cycle
    eff_c = dram_efficiency(run_c, hw)
    rd_cyc = (
        dram_rd[ACT] / dram_efficiency(run_a, hw) + dram_rd[WGT] / dram_efficiency(run_b, hw) + dram_rd[OUT] / eff_c
    ) / bw
    wr_cyc = dram_wr / eff_c / bw
    # the DRAM time of the operands whose tile level loads the next tile while it uses this one
    pf = [hw.home[x] >= 0 and hw.levels[hw.home[x]].prefetched[x] for x in (ACT, WGT, OUT)]
    pf_cyc = (
        (dram_rd[ACT] / dram_efficiency(run_a, hw) if pf[ACT] else 0.0)
        + (dram_rd[WGT] / dram_efficiency(run_b, hw) if pf[WGT] else 0.0)
        + ((dram_rd[OUT] + dram_wr) / eff_c if pf[OUT] else 0.0)
    ) / bw
    busy = np.maximum(compute, 1.0)
    lv_cyc = np.zeros(())
    for i, lv in enumerate(hw.levels):
        acc = (rd[i] + wr[i]) / lv.access_bytes
        lv_cyc = np.maximum(lv_cyc, acc / bank_rate(acc, busy, lv))

    legal = fits(hw, d, mt, nt, kt, res_in, res_out) if check_fit else np.ones((), dtype=bool)
    b = d.batch
    macs_main = d.m * d.n * d.k
    macs = macs_main + if_fused(d.m * d.n2 * d.n)
    exec_macs = macs - macs_main * np.asarray(mode.skip)
    gated = exec_macs * mode.gate
    mac_pj = hw.delta_mac_pj if delta else hw.mac_pj
    per_mac = mac_pj + hw.rf_pj_per_mac
    energy = {"compute": b * (exec_macs - gated) * mac_pj}
    if hw.rf_pj_per_mac:
        energy["rf"] = b * (exec_macs - gated) * hw.rf_pj_per_mac
    for i, lv in enumerate(hw.levels):
        energy[lv.name] = b * (rd[i] * lv.read_pj + wr[i] * lv.write_pj) / lv.access_bytes
    dram_rd_total = dram_rd[ACT] + dram_rd[WGT] + dram_rd[OUT]
    energy["dram"] = b * (dram_rd_total + dram_wr) * 8.0 * hw.dram_pj_per_bit
    return RowCost(
        compute_cycles=b * compute,
        skipped_cycles=b * skipped,
        dram_rd_bytes=b * dram_rd_total,
        dram_wr_bytes=b * dram_wr,
        dram_rd_cycles=b * rd_cyc,
        dram_wr_cycles=b * wr_cyc,
        dram_prefetch_cycles=b * np.asarray(pf_cyc),
        level_rd_bytes=tuple(b * x for x in rd),
        level_wr_bytes=tuple(b * x for x in wr),
        level_cycles=b * lv_cyc,
        n_tiles=b * p["tm"] * p["tn"] * p["tk"],
        n_runs=b * (cyc.folds + if_fused(p2["cyc"].folds)),
        legal=legal,
        macs_exec=b * exec_macs,
        energy_pj=energy,
        gated_pj=b * gated * per_mac,
        skipped_pj=b * macs_main * np.asarray(mode.skip) * per_mac,
        meta_bytes=b * meta,
        delta_extra_bytes=b * extra,
    )


def fits(
    hw: Hardware,
    d: Dims,
    mt: np.ndarray,
    nt: np.ndarray,
    kt: np.ndarray,
    res_in: np.ndarray | bool,
    res_out: np.ndarray | bool,
) -> np.ndarray:
    """Whether every level holds the tiles it is home to (twice when double-buffered, and a
    prefetched operand's twice: ``Level.prefetched``) and the resident tensors (inter-op reuse),
    each partitioned operand's in its partition (:mod:`simulator.cost.capacity`)."""
    ab, wb, ob, pb = hw.a_bits / 8, hw.w_bits / 8, hw.o_bits / 8, hw.p_bits / 8
    fused = d.fused
    kt = np.where(fused, d.k, np.minimum(kt, d.k))
    tile = {
        ACT: np.where(res_in, 0.0, mt * kt * ab),
        WGT: nt * np.where(fused, d.k + d.n2, kt) * wb,
        OUT: mt * nt * pb + np.where(fused, mt * d.n2 * pb, 0),
    }
    out_final = d.m * d.n + np.where(fused, d.m * d.n2, 0)
    resident = {
        ACT: np.where(res_in, d.a_unique * d.batch * ab, 0.0),
        OUT: np.where(res_out, out_final * d.batch * ob, 0.0),
    }
    legal = np.ones(
        np.broadcast_shapes(np.shape(mt), np.shape(nt), np.shape(kt), np.shape(res_in), np.shape(d.m)), dtype=bool
    )
    for i, lv in enumerate(hw.levels):  # a partitioned operand fills its partition, the others the pool
        copies = {x: 2 if lv.double_buffered or lv.prefetched[x] else 1 for x in (ACT, WGT, OUT)}
        need = {x: tile[x] * copies[x] + resident.get(x, 0.0) for x in (ACT, WGT, OUT) if hw.home[x] == i}
        legal = legal & level_fits(lv, need)
    return legal
