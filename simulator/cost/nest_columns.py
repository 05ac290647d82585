"""The loop-nest engine's results as the simulator's columns (:class:`OpCosts`).

:func:`reduce_nest` reduces one mapped nest (:class:`~simulator.cost.nest.analysis.NestResult`)
to what an op needs (cycles with the one-level model's bank conflicts, DRAM latency and stall
names; energy by component; traffic per level); :func:`columns` puts the nests of every op and the
vector unit's work together as ``[steps, n_ops]`` columns. :mod:`simulator.cost.nest_costs`
maps the nests and calls both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator.cost.analytic import BOUND_SLACK, OpCosts
from simulator.cost.clock import clock_energy, idle_gating, weighted_coverage
from simulator.cost.hardware import Hardware, bank_rate
from simulator.cost.mapping import Mapping
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch
from simulator.cost.overlap import total
from simulator.cost.sparsity import sparse_state
from simulator.cost.vector import VectorWork, streaming_cycles, vector_cost, vector_work
from simulator.optable import OpTable

#: Stall causes, as the one-level model names them (simulator.cost.overlap).
STALLS = ("dram", "fill_drain", "serial", "sram")


@dataclass(frozen=True)
class Nest:
    """One mapped nest reduced to the simulator's columns (whole op part, no gating)."""

    compute: float
    cycles: float
    memory: float
    stalls: dict[str, float]
    energy_pj: dict[str, float]
    traffic: dict[str, float]
    mac_pj: float
    #: PEs the nest's mapping covers: the product of its spatial factors (rows x columns), for the
    #: clock network's idle-PE gating (:mod:`simulator.cost.clock`)
    pes: float
    #: For the event fidelity (:mod:`simulator.cost.event`): the on-chip busy time (compute and
    #: every level below DRAM), DRAM's read and write bytes, the tiles DRAM hands the outermost
    #: on-chip level (the DRAM level's iterations, all copies) and the units loads overlap in
    #: (its sub-tiles when that level is double-buffered, else the tiles).
    onchip: float = 0.0
    dram_rd_bytes: float = 0.0
    dram_wr_bytes: float = 0.0
    tiles: float = 1.0
    units: float = 1.0


def reduce_nest(r: NestResult, hw: Hardware, narch: NestArch) -> Nest:
    """``r`` with the one-level model's bank conflicts, DRAM latency and stall names.

    The scalar twin of :func:`simulator.cost.nest_sparsity_columns.reduce` (the same reduction over
    arrays; ``test_nest_sparsity_batch.py::test_reduce_is_reduce_nest`` holds the two equal): calling
    that one for each nest made warm nest evaluations about 20 % slower (bench, 2026-12-05)."""
    shared = {lv.name: lv for lv in hw.levels}
    per_pe = {lv.name for lv in narch.levels[: narch.fanout_level]}
    compute = r.compute_cycles
    onchip = compute
    for name, t in r.transfer_cycles.items():
        if name in shared:
            lv = shared[name]
            acc = np.asarray(r.traffic_bytes[name] / lv.access_bytes)
            t = max(t, float(acc / bank_rate(acc, np.asarray(max(compute, 1.0)), lv)))
        if name != "dram":
            onchip = max(onchip, t)
    busy = max(onchip, r.transfer_cycles["dram"])
    # a prefetching level's exposed time is its other operands' fills and drains only (analysis)
    serial = sum(v for k, v in r.exposed_cycles_by_level.items() if not shared[k].double_buffered)
    first = sum(v for k, v in r.exposed_cycles_by_level.items() if shared[k].double_buffered)
    lat = hw.dram_latency_cycles if r.traffic_bytes["dram"] > 0 else 0.0
    # DRAM's reads at its stored bytes (weights and inputs coded or kept; partial sums plain)
    comp = narch.levels[-1].compression
    stored = np.asarray(narch.word_bits) / 8.0 * np.array([comp[0], comp[1], 1.0])
    rd = float(r.reads_words[-1] @ stored)
    f = r.mapping.factors
    tiles = float(math.prod(f[-1])) * r.problem.copies  # exact integer products, as numpy's int64 ones
    top = narch.levels[-2] if len(narch.levels) > 1 else None
    units = tiles * float(math.prod(f[-2])) if top is not None and top.double_buffered else tiles
    stalls = {"dram": busy - onchip, "fill_drain": first + lat, "serial": serial, "sram": onchip - compute}
    energy: dict[str, float] = {}
    for name, e in r.energy_pj_by_level.items():
        key = "compute" if name == "mac" else "rf" if name in per_pe else name
        energy[key] = energy.get(key, 0.0) + e
    return Nest(
        compute=compute,
        cycles=busy + serial + first + lat,
        memory=max(r.transfer_cycles.values()),
        stalls=stalls,
        energy_pj=energy,
        traffic=dict(r.traffic_bytes),
        mac_pj=r.macs * narch.mac_pj,
        pes=float(r.mapping.pes()),
        onchip=onchip,
        dram_rd_bytes=rd,
        dram_wr_bytes=r.traffic_bytes["dram"] - rd,
        tiles=tiles,
        units=units,
    )


def vector_work_of(table: OpTable, hw: Hardware, fused: np.ndarray) -> VectorWork:
    """The vector unit's work (:func:`simulator.cost.vector.vector_work`) with the attention ops
    ``fused`` marks (per op) keeping their scores on chip for the softmax, the others sending them
    to DRAM and back."""
    on = vector_work(table, replace(hw, fused_attention=True))
    off = vector_work(table, replace(hw, fused_attention=False))
    return VectorWork(
        *(
            np.where(fused, a, b)
            for a, b in zip(
                (on.ops, on.in_elems, on.out_elems, on.chained, on.onchip_elems, on.out_shared),
                (off.ops, off.in_elems, off.out_elems, off.chained, off.onchip_elems, off.out_shared),
                strict=True,
            )
        )
    )


def columns(
    table: OpTable,
    hw: Hardware,
    parts: dict[int, list[Nest]],
    objective: str,
    *,
    res_in: np.ndarray | None = None,
    res_out: np.ndarray | None = None,
    work: VectorWork | None = None,
) -> OpCosts:
    """The nests' numbers and the vector unit's as ``[steps, n_ops]`` columns; ``res_in`` /
    ``res_out`` (per op) mark inputs read from and outputs kept in an on-chip buffer (the report's
    ``input_resident`` / ``output_kept``; none by default): the nests of a GEMM-like op already
    carry them, a vector op's traffic follows them (:func:`simulator.cost.vector.vector_cost`).
    ``work``: the vector unit's work (:func:`vector_work_of`; default: every attention unfused)."""
    steps, n = table.steps, table.n_ops
    gemm_mask = np.zeros(n, dtype=bool)
    gemm_mask[list(parts)] = True
    keep_in = np.zeros(n, dtype=bool) if res_in is None else res_in
    keep_out = np.zeros(n, dtype=bool) if res_out is None else res_out
    ones = np.ones((steps, 1))

    def col(get: Any) -> np.ndarray:
        v = np.zeros(n)
        for i, ns in parts.items():
            v[i] = sum(get(x) for x in ns)
        return v

    compute_g, cycles_g, memory_g = col(lambda x: x.compute), col(lambda x: x.cycles), col(lambda x: x.memory)
    names = sorted({k for ns in parts.values() for x in ns for k in x.energy_pj})
    energy_g = {k: col(lambda x, k=k: x.energy_pj.get(k, 0.0)) for k in names}
    levels = sorted({k for ns in parts.values() for x in ns for k in x.traffic})
    traffic_g = {k: col(lambda x, k=k: x.traffic.get(k, 0.0)) for k in levels}
    stalls_g = {k: col(lambda x, k=k: x.stalls[k]) for k in STALLS}
    # Zero gating on the MAC energy, per op and step, weighted by each GEMM row's MACs.
    gated = np.zeros((steps, n))
    if hw.act_gating or hw.weight_gating:
        gate = sparse_state(table, replace(hw, block=None, compact_acts=False, delta_enabled=False)).gate
        row_macs = (table.g_batch * table.g_m * table.g_n * table.g_k).astype(np.float64)
        frac = np.zeros((steps, n))
        for s in range(steps):
            frac[s] = np.bincount(table.g_op, weights=gate[s] * row_macs, minlength=n)
        macs = np.bincount(table.g_op, weights=row_macs, minlength=n)
        frac = np.divide(frac, macs, out=np.zeros_like(frac), where=macs > 0)
        gated = frac * col(lambda x: x.mac_pj)

    # Vector work: the one-level model's vector unit; a GEMM-like op's own (attention's softmax)
    # never holds the op's input or output, which its nests carry.
    if work is None:
        work = vector_work_of(table, hw, np.zeros(n, dtype=bool))
    vc = vector_cost(hw, work, keep_in & ~gemm_mask, keep_out & ~gemm_mask)
    bw = hw.dram_bytes_per_cycle
    dram_v = vc.dram_rd_bytes + vc.dram_wr_bytes
    cyc_v = streaming_cycles(hw, vc.cycles, vc.level_cycles, dram_v)
    busy_v = np.maximum(vc.cycles, vc.level_cycles)
    stalls_v = {
        "dram": np.maximum(dram_v / bw - busy_v, 0.0),
        "fill_drain": np.where(dram_v > 0, hw.dram_latency_cycles, 0.0),
        "serial": np.zeros(n),
        "sram": busy_v - vc.cycles,
    }
    compute = ones * (compute_g + vc.cycles)
    cycles = ones * (cycles_g + cyc_v)
    latency_s = cycles / hw.clock_hz
    energy = {k: ones * v for k, v in energy_g.items()}
    for k, v in vc.energy_pj.items():
        energy[k] = energy.get(k, np.zeros((steps, n))) + ones * v
    energy["compute"] = energy.get("compute", np.zeros((steps, n))) - gated
    energy["leakage"] = latency_s * hw.leakage_mw * 1e-3 * 1e12  # W·s -> pJ
    coverage = None
    if idle_gating(hw):  # the PEs each op's nests cover, weighted by their compute cycles
        flat = [(i, x) for i, ns in parts.items() for x in ns]
        op = np.array([i for i, _ in flat], dtype=np.int64)
        busy, pes = np.array([x.compute for _, x in flat]), np.array([x.pes for _, x in flat])
        coverage = weighted_coverage(busy, pes, op, n, hw.rows * hw.cols)
    energy.update(clock_energy(hw, cycles, coverage))  # the clock network over the op's cycles; {} when off
    traffic = {k: ones * v for k, v in traffic_g.items()}
    traffic["dram"] = traffic.get("dram", np.zeros((steps, n))) + ones * dram_v
    for j, lv in enumerate(hw.levels):
        moved = vc.level_rd_bytes[j] + vc.level_wr_bytes[j]
        traffic[lv.name] = traffic.get(lv.name, np.zeros((steps, n))) + ones * moved
    stalls = {k: ones * (stalls_g[k] + stalls_v[k]) for k in STALLS}
    memory = ones * np.maximum(memory_g, np.maximum((dram_v) / bw, vc.level_cycles))
    macs = table.macs.astype(np.float64)
    util = np.where(cycles > 0, macs / np.maximum(cycles * hw.rows * hw.cols * hw.mpc, 1), 0.0)
    waiting = total(stalls)
    bound0 = np.where(
        cycles[0] <= 0,
        "none",
        np.where(waiting[0] > BOUND_SLACK * compute[0], "memory", np.where(gemm_mask, "compute", "vector")),
    )
    zeros = np.zeros((steps, n))
    g = table.n_gemm
    return OpCosts(
        hw=hw,
        compute_cycles=compute,
        memory_cycles=memory,
        cycles=cycles,
        latency_s=latency_s,
        energy_pj=dict(sorted(energy.items())),
        gating_saved_pj=gated,
        skipped_cycles=zeros,
        skipped_pj=zeros,
        delta_used=zeros.astype(bool),
        delta_extra_bytes=zeros,
        meta_bytes=zeros,
        utilization=util,
        stalls=stalls,
        traffic_bytes=dict(sorted(traffic.items())),
        tiles=ones * np.where(gemm_mask, col(lambda x: x.tiles), 1.0),
        units=ones * np.where(gemm_mask, col(lambda x: x.units), 1.0),
        dram_rd_cycles=ones * ((col(lambda x: x.dram_rd_bytes) + vc.dram_rd_bytes) / bw),
        dram_wr_cycles=ones * ((col(lambda x: x.dram_wr_bytes) + vc.dram_wr_bytes) / bw),
        level_cycles=ones * (col(lambda x: x.onchip) + vc.level_cycles),
        bound=bound0,
        mapping=Mapping(
            mt=np.zeros(g),
            nt=np.zeros(g),
            kt=np.zeros(g),
            order=np.zeros(g, dtype=np.int64),
            res_in=keep_in,
            res_out=keep_out,
            objective=objective,
        ),
        area_mm2=hw.area_mm2,
    )
