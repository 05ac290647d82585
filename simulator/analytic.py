"""The analytic cost model: cycles, traffic and energy of every op on one design.

Two phases with a clean seam (as in SCALE-Sim): compute produces demand (cycles on the array
or the vector unit, bytes each level must serve), memory services it (cycles per level from
bandwidth). Latency per op is the slowest of them plus one DRAM latency; energy is the sum of
compute, every level's accesses, DRAM bits, and leakage over the op's latency.

Sparsity is applied per step from the trace's statistics and reported as two separate
effects (DESIGN.md): *gating* saves MAC energy on zero operands but no cycles; *skipping*
saves cycles (and the energy of the skipped beats) only for structure the array can skip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelerator import tech
from accelerator.spec import PRECISION_BITS, ArchSpec, MemoryLevel
from simulator import array
from simulator.mapping import GemmMapping, map_gemms, require_fit
from simulator.optable import OpTable


@dataclass(frozen=True)
class Levels:
    """The spec's memory levels split by role."""

    rf: MemoryLevel | None  # per-PE register file (innermost, per_pe=True), if any
    glb: MemoryLevel  # outermost on-chip level: holds the GEMM tiles


def split_levels(arch: ArchSpec) -> Levels:
    levels = arch.memory.levels
    rf = next((lv for lv in levels if lv.per_pe), None)
    shared = [lv for lv in levels if not lv.per_pe]
    glb = shared[-1] if shared else levels[-1]
    return Levels(rf=rf, glb=glb)


def level_read_pj(level: MemoryLevel, node_nm: float) -> float:
    """Energy per access of ``level.width_bits`` (spec override or the SRAM model)."""
    if level.read_energy_pj is not None:
        return level.read_energy_pj
    return tech.sram_access_energy_pj(level.size_bytes, level.width_bits, node_nm)


def level_write_pj(level: MemoryLevel, node_nm: float) -> float:
    if level.write_energy_pj is not None:
        return level.write_energy_pj
    return level_read_pj(level, node_nm)


def level_leakage_mw(level: MemoryLevel, node_nm: float, pes: int) -> float:
    if level.leakage_mw is not None:
        per = level.leakage_mw
    else:
        per = tech.sram_leakage_mw(level.size_bytes, node_nm)
    return per * (pes if level.per_pe else 1)


@dataclass(frozen=True)
class OpCosts:
    """Per-step, per-op costs: arrays of shape [steps, n_ops] unless noted."""

    compute_cycles: np.ndarray
    memory_cycles: np.ndarray
    cycles: np.ndarray
    latency_s: np.ndarray
    energy_pj: dict[str, np.ndarray]  # component -> [steps, n_ops]
    gating_saved_pj: np.ndarray
    skipped_cycles: np.ndarray
    utilization: np.ndarray
    bound: np.ndarray  # [n_ops] of "compute" | "memory" | "vector" | "none" (step 0)
    mapping: GemmMapping
    area_mm2: float
    traffic_bytes: dict[str, np.ndarray]  # level -> [steps, n_ops] bytes moved


def _scatter(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Sum GEMM-row values ([..., n_gemm]) into op columns ([..., n])."""
    out = np.zeros(values.shape[:-1] + (n,))
    np.add.at(out, (..., index), values)
    return out


def area_mm2(arch: ArchSpec) -> float:
    """Area of the PE array and the buffers (logic outside them not modelled)."""
    c = arch.compute
    pes = c.rows * c.cols
    node = arch.technology_nm
    mac = tech.mac_area_um2(c.precision, node, c.accumulator_bits) * pes * 1e-6
    sram = sum(
        tech.sram_area_mm2(lv.size_bytes, node) * (pes if lv.per_pe else 1) for lv in arch.memory.levels
    )
    return mac + sram


def evaluate_table(table: OpTable, arch: ArchSpec) -> OpCosts:
    """Cost every op of ``table`` on ``arch`` for every traced step."""
    c = arch.compute
    node = arch.technology_nm
    steps, n = table.steps, table.n_ops
    bits = PRECISION_BITS[c.precision]
    elem_b = bits / 8.0
    psum_b = c.accumulator_bits / 8.0
    mpc = c.macs_per_pe_per_cycle[c.precision]
    pes = c.rows * c.cols
    lv = split_levels(arch)
    clock_hz = arch.clock_ghz * 1e9

    # ---- mapping (independent of the step: sparsity never changes tiles)
    cap = lv.glb.size_bytes / (2.0 if lv.glb.double_buffered else 1.0)
    mapping = map_gemms(
        table,
        rows=c.rows, cols=c.cols, capacity_bytes=cap,
        act_bytes=elem_b, weight_bytes=elem_b, psum_bytes=psum_b,
    )
    require_fit(mapping, table.g_op, cap, [op.name for op in table.workload.ops])

    # ---- sparsity per step, on GEMM rows
    g_op = table.g_op
    act_zero = table.stat("act_zero_frac")[:, g_op]  # [steps, g]
    w_zero = table.stat("weight_zero_frac")[:, g_op]
    sp = c.sparsity
    skip = np.zeros_like(act_zero)
    if sp.block_skip is not None:
        name = f"act_block_zero_frac_{sp.block_skip[0]}x{sp.block_skip[1]}"
        skip = np.maximum(skip, table.stat(name)[:, g_op])
    if sp.temporal_delta:
        dz = table.stat(f"delta_{sp.delta_precision}_zero_frac")[:, g_op]
        # A delta vector of `rows` elements is skippable only if all are zero; without a
        # recorded block statistic assume independent elements (pessimistic).
        skip = np.maximum(skip, dz ** c.rows)

    # ---- compute cycles
    cyc_rows = []
    skipped_rows = []
    for s in range(steps):
        cyc, _folds, skipped = array.gemm_cycles(
            c, table.g_batch, table.g_m, table.g_n, table.g_k, mpc, skip[s]
        )
        cyc_rows.append(cyc)
        skipped_rows.append(skipped)
    g_cycles = np.stack(cyc_rows) if steps else np.zeros((0, len(g_op)))
    g_skipped = np.stack(skipped_rows) if steps else np.zeros((0, len(g_op)))
    lanes = c.vector_lanes or c.cols
    vec_cycles = np.broadcast_to(np.ceil(table.vector_ops / lanes), (steps, n))
    compute_cycles = _scatter(g_cycles, g_op, n) + vec_cycles
    skipped_cycles = _scatter(g_skipped, g_op, n)

    # ---- traffic (elements -> bytes)
    gemm_mask = np.zeros(n, dtype=bool)
    gemm_mask[g_op] = True
    dram_elems = _scatter(
        (mapping.dram_act_elems + mapping.dram_weight_elems + mapping.dram_out_elems)[None, :], g_op, n
    )[0]
    non_gemm = ~gemm_mask
    dram_elems = dram_elems + np.where(non_gemm, table.act_elems + table.weight_elems + table.out_elems, 0)
    dram_bytes = dram_elems * elem_b
    g_macs_elems = table.g_batch * table.g_m * table.g_n * table.g_k
    # GLB -> array streaming per dataflow (see simulator.array for the dimension map).
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    b_, m_, n_, k_ = table.g_batch, table.g_m, table.g_n, table.g_k
    if c.dataflow == "output_stationary":
        glb_stream = b_ * (m_ * k_ * ceil(n_, c.cols) + k_ * n_ * ceil(m_, c.rows) + m_ * n_)
    elif c.dataflow == "weight_stationary":
        glb_stream = b_ * (k_ * n_ + m_ * k_ * ceil(n_, c.cols) + 2 * m_ * n_ * ceil(k_, c.rows))
    else:
        glb_stream = b_ * (m_ * k_ + k_ * n_ * ceil(m_, c.cols) + 2 * m_ * n_ * ceil(k_, c.rows))
    glb_elems = _scatter(glb_stream.astype(np.float64)[None, :], g_op, n)[0] + dram_elems
    glb_bytes = glb_elems * elem_b
    # Skipped beats are not streamed either: scale GLB streaming by the executed fraction.
    exec_frac = np.where(compute_cycles > 0, 1.0 - skipped_cycles / np.maximum(compute_cycles + skipped_cycles, 1), 1.0)
    glb_bytes_s = glb_bytes[None, :] * exec_frac

    dram_bw = arch.memory.dram.bandwidth_gb_per_s * 1e9 * arch.memory.dram.efficiency / clock_hz
    dram_cycles = np.broadcast_to(dram_bytes / dram_bw, (steps, n))
    glb_cycles = glb_bytes_s / lv.glb.bandwidth_bytes_per_cycle
    memory_cycles = np.maximum(dram_cycles, glb_cycles)
    lat_cycles = arch.memory.dram.latency_ns * arch.clock_ghz
    active = (compute_cycles > 0) | (dram_bytes[None, :] > 0)
    cycles = np.where(active, np.maximum(compute_cycles, memory_cycles) + lat_cycles, 0.0)
    latency_s = cycles / clock_hz

    # ---- energy (pJ)
    macs = table.macs.astype(np.float64)
    mac_pj = tech.mac_energy_pj(c.precision, node, c.accumulator_bits)
    g_macs = g_macs_elems.astype(np.float64)
    gate = np.zeros_like(act_zero)
    if sp.act_zero_gating:
        gate = act_zero
    if sp.weight_zero_gating:
        gate = 1.0 - (1.0 - gate) * (1.0 - np.where(table.g_weight_is_param[None, :], w_zero, 0.0))
    # Executed MACs: skipped beats do no work at all; of the rest, gated ones save their energy.
    g_exec = g_macs[None, :] * (1.0 - skip)
    g_gated = g_exec * gate
    compute_pj = _scatter((g_exec - g_gated) * mac_pj, g_op, n)
    gating_saved_pj = _scatter(g_gated * mac_pj, g_op, n)
    vector_pj = np.broadcast_to(table.vector_ops * tech.vector_op_energy_pj(c.precision, node), (steps, n))

    glb_access_bytes = lv.glb.width_bits / 8.0
    glb_pj = glb_bytes_s / glb_access_bytes * level_read_pj(lv.glb, node)
    energy = {"compute": compute_pj, "vector": np.array(vector_pj), "glb": glb_pj}
    if lv.rf is not None:
        # Per MAC: two operand reads and an accumulator read-modify-write, at the widths used.
        rf = lv.rf
        per_bit = level_read_pj(rf, node) / rf.width_bits
        rf_pj_per_mac = per_bit * (2 * bits + 2 * c.accumulator_bits)
        energy["rf"] = _scatter(g_exec * (1.0 - gate) * rf_pj_per_mac, g_op, n)
    dram_pj_bit = arch.memory.dram.energy_pj_per_bit or tech.dram_energy_pj_per_bit(arch.memory.dram.kind)
    energy["dram"] = np.broadcast_to(dram_bytes * 8.0 * dram_pj_bit, (steps, n)).copy()
    leak_mw = sum(level_leakage_mw(x, node, pes) for x in arch.memory.levels) + arch.static_power_mw
    energy["leakage"] = latency_s * leak_mw * 1e-3 * 1e12  # W·s -> pJ

    util = np.where(cycles > 0, macs[None, :] / np.maximum(cycles * pes * mpc, 1), 0.0)
    bound0 = np.where(
        ~active[0], "none",
        np.where(memory_cycles[0] > compute_cycles[0], "memory",
                 np.where(gemm_mask, "compute", "vector")),
    )
    return OpCosts(
        compute_cycles=compute_cycles,
        memory_cycles=memory_cycles,
        cycles=cycles,
        latency_s=latency_s,
        energy_pj=energy,
        gating_saved_pj=gating_saved_pj,
        skipped_cycles=skipped_cycles,
        utilization=util,
        bound=bound0,
        mapping=mapping,
        area_mm2=area_mm2(arch),
        traffic_bytes={"dram": np.broadcast_to(dram_bytes, (steps, n)), lv.glb.name: glb_bytes_s},
    )
