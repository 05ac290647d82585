"""The analytic cost model: cycles, traffic, stalls and energy of every op on one design.

Two phases with a clean seam (as in SCALE-Sim): the mapping (:mod:`simulator.cost.mapping`, once
per design, dense) fixes tiles, loop orders and which activations stay on chip; then every
traced step is costed with its sparsity (:mod:`simulator.cost.sparsity`): compute produces
demand (array cycles, vector cycles, bytes per level and from DRAM), memory services it
(:func:`simulator.cost.overlap.overlap_cycles`). Energy = MACs at the run precision + register
files + every level's reads and writes + DRAM bits + leakage over the op's latency.

Savings are kept apart: ``gating_saved_pj`` (zero operands not toggling the MAC),
``skipped_cycles`` / ``skipped_pj`` (units the array skips), and temporal-delta mode, used for
an op and step only where it costs less energy than the dense op, with the bytes it adds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from simulator.cost.array import spatial_coverage
from simulator.cost.clock import clock_energy, idle_gating
from simulator.cost.gemm import Mode, RowCost, gemm_cost
from simulator.cost.hardware import RS, Hardware, hardware
from simulator.cost.mapping import Mapping, dims_of, map_workload, score, skipped_rows
from simulator.cost.overlap import double_buffered, overlap_cycles, total
from simulator.cost.residency import Residency, reserve
from simulator.cost.sparsity import sparse_state, unit_shape
from simulator.cost.vector import streaming_cycles, vector_cost, vector_work
from simulator.optable import OpTable

#: An op is memory-bound when its stalls exceed this fraction of its compute cycles.
BOUND_SLACK = 0.05


@dataclass(frozen=True)
class OpCosts:
    """Per-step, per-op costs: arrays of shape [steps, n_ops] unless noted."""

    hw: Hardware
    compute_cycles: np.ndarray
    memory_cycles: np.ndarray  # slowest of DRAM and buffer time
    cycles: np.ndarray
    latency_s: np.ndarray
    energy_pj: dict[str, np.ndarray]  # component -> [steps, n_ops]
    gating_saved_pj: np.ndarray
    skipped_cycles: np.ndarray
    skipped_pj: np.ndarray
    delta_used: np.ndarray  # bool: temporal-delta mode ran
    delta_extra_bytes: np.ndarray
    meta_bytes: np.ndarray
    utilization: np.ndarray
    stalls: dict[str, np.ndarray]  # dram, sram, fill_drain, serial -> cycles
    traffic_bytes: dict[str, np.ndarray]  # "dram" and level names -> bytes moved
    tiles: np.ndarray  # buffer tiles per op
    units: np.ndarray  # units loads overlap in (event mode: one event per unit): tiles, or fold runs if double-buffered
    dram_rd_cycles: np.ndarray
    dram_wr_cycles: np.ndarray
    level_cycles: np.ndarray
    bound: np.ndarray  # [n_ops] of "compute" | "memory" | "vector" | "none" (step 0)
    mapping: Mapping
    area_mm2: float
    timeline: tuple[dict[str, float], ...] = ()  # event mode: per-op times of traced step 0


def _scatter(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Sum GEMM-row values ([steps, n_gemm]) into op columns ([steps, n])."""
    out = np.zeros((values.shape[0], n))
    for step in range(values.shape[0]):
        out[step] = np.bincount(index, weights=values[step], minlength=n)
    return out


def _pick(a: RowCost, b: RowCost, use_b: np.ndarray) -> RowCost:
    """Field-wise ``where(use_b, b, a)``."""

    def w(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(use_b, y, x)

    picked: dict[str, Any] = {}
    for f in fields(RowCost):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "legal":
            picked[f.name] = x
        elif isinstance(x, tuple):
            picked[f.name] = tuple(map(w, x, y))
        elif isinstance(x, dict):
            picked[f.name] = {k: w(x[k], y[k]) for k in x}
        else:
            picked[f.name] = w(x, y)
    return RowCost(**picked)


def _row_costs(table: OpTable, hw: Hardware, mp: Mapping) -> tuple[RowCost, np.ndarray]:
    """Costs of every GEMM row at every step ([steps, g]) and where delta mode ran."""
    steps, g = table.steps, table.n_gemm
    d = dims_of(table, hw).expand(0).transpose()
    sp = sparse_state(table, hw)
    res_in = mp.res_in[table.g_op][None, :]
    res_out = mp.res_out[table.g_op][None, :]
    shared = table.out_shared[table.g_op][None, :]
    tiles = (mp.mt[None, :], mp.nt[None, :], mp.kt[None, :], mp.order[None, :])
    w_res = table.g_weight_is_param[None, :] if hw.resident_level >= 0 else False
    dense = gemm_cost(
        hw,
        d,
        *tiles,
        res_in,
        res_out,
        Mode(sp.skip, sp.gate, sp.a_scale, sp.meta_bits_per_elem),
        w_resident=w_res,
        out_shared=shared,
    )
    use = np.zeros((steps, g), dtype=bool)
    if sp.delta_ok.any():
        um, uk = unit_shape(hw, hw.delta_mpc)
        delta = gemm_cost(
            hw,
            d,
            *tiles,
            res_in,
            res_out,
            Mode(sp.d_skip, sp.d_gate, 1.0, hw.metadata_bits_per_block / (um * uk), True, sp.d_slow),
            w_resident=w_res,
            out_shared=shared,
        )

        def energy(rc: RowCost) -> np.ndarray:
            cyc, _ = overlap_cycles(
                hw,
                rc.compute_cycles,
                rc.dram_rd_cycles,
                rc.dram_wr_cycles,
                rc.level_cycles,
                rc.n_tiles,
                rc.n_tiles >= 0,
                rc.n_runs,
                prefetch_cyc=rc.dram_prefetch_cycles,
            )
            return score(hw, "energy", cyc, total(rc.energy_pj))

        use = sp.delta_ok & (energy(delta) < energy(dense))
        dense = _pick(dense, delta, use)
    return dense, use


def evaluate_table(
    table: OpTable, arch: ArchSpec, objective: str | None = None, residency: Residency | None = None
) -> OpCosts:
    """Cost every op of ``table`` on ``arch`` for every traced step; with a ``residency``
    that is resident, weights stay in its level across steps (:mod:`simulator.cost.residency`:
    the level shrinks by them, steps read them from it; the fill is the caller's)."""
    hw = hardware(arch)
    if hw.dataflow == RS:
        raise SimulationError(f"{arch.name}: row_stationary has no one-level closed form; it needs memory_model nest")
    if residency is not None and residency.resident:
        hw = reserve(hw, residency)
    objective = objective or arch.mapping_objective
    steps, n = table.steps, table.n_ops
    work = vector_work(table, hw)
    mp = map_workload(table, hw, work, objective)
    rc, delta_used = _row_costs(table, hw, mp)
    keep = ~skipped_rows(table, hw)
    g_op = table.g_op

    def rows(x: np.ndarray) -> np.ndarray:
        return _scatter(np.where(keep, np.broadcast_to(x, (steps, table.n_gemm)), 0.0), g_op, n)

    vc = vector_cost(hw, work, mp.res_in, mp.res_out)
    bw = hw.dram_bytes_per_cycle
    gemm_mask = np.zeros(n, dtype=bool)
    gemm_mask[g_op] = True
    compute = rows(rc.compute_cycles) + vc.cycles
    rd_cyc = rows(rc.dram_rd_cycles) + vc.dram_rd_bytes / bw
    wr_cyc = rows(rc.dram_wr_cycles) + vc.dram_wr_bytes / bw
    lv_cyc = rows(rc.level_cycles) + vc.level_cycles
    n_tiles = np.maximum(rows(rc.n_tiles), 1.0)
    n_runs = rows(rc.n_runs)
    dram_b = rows(rc.dram_rd_bytes + rc.dram_wr_bytes) + vc.dram_rd_bytes + vc.dram_wr_bytes
    has_dram = dram_b > 0
    pf_cyc = rows(rc.dram_prefetch_cycles)
    cyc_g, stalls = overlap_cycles(hw, compute, rd_cyc, wr_cyc, lv_cyc, n_tiles, has_dram, n_runs, prefetch_cyc=pf_cyc)
    cyc_v = streaming_cycles(hw, compute, lv_cyc, dram_b)
    cycles = np.where(gemm_mask, cyc_g, cyc_v)
    busy_v = np.maximum(compute, lv_cyc)
    for key in stalls:
        stalls[key] = np.where(gemm_mask, stalls[key], 0.0)
    stalls["sram"] = np.where(gemm_mask, stalls["sram"], busy_v - compute)
    stalls["dram"] = np.where(gemm_mask, stalls["dram"], np.maximum(dram_b / bw - busy_v, 0.0))
    stalls["fill_drain"] = np.where(gemm_mask, stalls["fill_drain"], np.where(has_dram, hw.dram_latency_cycles, 0.0))
    latency_s = cycles / hw.clock_hz

    energy: dict[str, np.ndarray] = {}
    for key in sorted(set(rc.energy_pj) | set(vc.energy_pj)):
        e = np.zeros((steps, n))
        if key in rc.energy_pj:
            e = e + rows(rc.energy_pj[key])
        if key in vc.energy_pj:
            e = e + vc.energy_pj[key]
        energy[key] = e
    energy["leakage"] = latency_s * hw.leakage_mw * 1e-3 * 1e12  # W·s -> pJ
    coverage = None
    if idle_gating(hw):  # the PEs each op's GEMM rows reach, weighted by their compute cycles
        cov = spatial_coverage(hw.dataflow, hw.rows, hw.cols, hw.mpc, table.g_m, table.g_n, table.g_k)
        busy = rows(rc.compute_cycles)
        coverage = np.divide(rows(rc.compute_cycles * cov[None, :]), busy, out=np.zeros_like(busy), where=busy > 0)
    energy.update(clock_energy(hw, cycles, coverage))  # the clock network over the op's cycles; {} when off
    traffic = {"dram": dram_b}
    for i, lv in enumerate(hw.levels):
        traffic[lv.name] = (
            rows(rc.level_rd_bytes[i] + rc.level_wr_bytes[i]) + vc.level_rd_bytes[i] + vc.level_wr_bytes[i]
        )
    macs = table.macs.astype(np.float64)
    util = np.where(cycles > 0, macs / np.maximum(cycles * hw.rows * hw.cols * hw.mpc, 1), 0.0)
    memory = np.maximum(rd_cyc + wr_cyc, lv_cyc)
    waiting = total(stalls)
    bound0 = (
        np.where(
            cycles[0] <= 0,
            "none",
            np.where(waiting[0] > BOUND_SLACK * compute[0], "memory", np.where(gemm_mask, "compute", "vector")),
        )
        if steps
        else np.array([])
    )
    return OpCosts(
        hw=hw,
        compute_cycles=compute,
        memory_cycles=memory,
        cycles=cycles,
        latency_s=latency_s,
        energy_pj=energy,
        gating_saved_pj=rows(rc.gated_pj),
        skipped_cycles=rows(rc.skipped_cycles),
        skipped_pj=rows(rc.skipped_pj),
        delta_used=_scatter(delta_used.astype(float), g_op, n) > 0,
        delta_extra_bytes=rows(rc.delta_extra_bytes),
        meta_bytes=rows(rc.meta_bytes),
        utilization=util,
        stalls=stalls,
        traffic_bytes=traffic,
        tiles=n_tiles,
        units=np.maximum(n_tiles, n_runs) if double_buffered(hw) else n_tiles,
        dram_rd_cycles=rd_cyc,
        dram_wr_cycles=wr_cyc,
        level_cycles=lv_cyc,
        bound=bound0,
        mapping=mp,
        area_mm2=hw.area_mm2,
    )
