"""The loop-nest engine behind :func:`simulator.evaluate`: designs with ``mapping.memory_model: nest``.

Every GEMM-like op (convolution, GEMM, attention) becomes its loop nests
(:func:`simulator.cost.nest.ops.problems`: a convolution keeps its seven dimensions, or is its
im2col GEMM with ``mapping.conv_view: im2col``; attention is Q·Kᵀ then P·V), each mapped by one
seeded :class:`~simulator.cost.nest.search.Mapper` per evaluation (cached per shape; a caller may
pass one to share across designs and calls) with the spatial preset named by ``compute.dataflow``
and the design's objective. The
:class:`~simulator.cost.nest.analysis.NestResult` of each nest fills the same :class:`OpCosts`
columns the one-level model fills, with the one-level model's effects where they apply:

- cycles: ``max(compute, every level's transfer time) + exposed fills + DRAM latency``, compute
  including the array's fill and drain per change of its stationary tile
  (:mod:`simulator.cost.nest.systolic`); a shared
  level's transfer time is its accesses at the rate its banks sustain
  (:func:`simulator.cost.hardware.bank_rate`, the bank-conflict model), DRAM at the spec's
  sustained bandwidth, the DRAM latency once per nest that touches DRAM;
- stalls (compute + stalls = cycles): ``sram`` (on-chip levels beyond compute), ``dram`` (DRAM
  beyond both), ``serial`` (fills and drains of single-buffered shared levels), ``fill_drain``
  (the first sub-tile of double-buffered ones, and the DRAM latency);
- energy by component with today's names: ``compute`` (MACs), ``rf`` (all per-PE levels),
  every shared level by name, ``dram``, ``leakage`` (the chip's over the op's latency), and
  ``vector``; zero gating scales the MAC energy as in the one-level model
  (:func:`simulator.cost.sparsity.sparse_state`, dense otherwise);
- traffic bytes per level (per-PE levels included) and DRAM;
- with ``dram_code`` (the spec's ``memory.dram.compression``, passed by ``simulator.evaluation``),
  DRAM holding every op's input and/or output fmaps run-length coded
  (:mod:`simulator.cost.nest.compression`) at their zero fractions (:func:`fmap_zero_fracs`);
  the mapper sees the coded bytes.

Vector work (norms, softmax, elementwise ops, attention's softmax) keeps the one-level model's
vector-unit cost, after the array's work within an op. What the nest path does not model yet is
said in the result's ``notes`` (:func:`limits`), never silently: block skipping, compaction and
temporal deltas (ops run dense), weight residency across steps, inter-op activation reuse, fused
attention, DRAM bursts. The event fidelity is refused
(``simulator.evaluation``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from models.workload.graph import edges
from simulator.cost.analytic import BOUND_SLACK, OpCosts
from simulator.cost.hardware import Hardware, bank_rate, hardware
from simulator.cost.mapping import Mapping
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch, from_spec
from simulator.cost.nest.compression import RunLengthCode
from simulator.cost.nest.ops import problems
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.problem import DIMS
from simulator.cost.nest.search import Mapper
from simulator.cost.overlap import total
from simulator.cost.sparsity import sparse_state
from simulator.cost.vector import streaming_cycles, vector_cost, vector_work
from simulator.optable import OpTable

#: Stall causes, as the one-level model names them (simulator.cost.overlap).
STALLS = ("dram", "fill_drain", "serial", "sram")


@dataclass(frozen=True)
class NestCosts:
    """The costs, the per-op mapping descriptions for the report, and the design's notes."""

    costs: OpCosts
    mapping: dict[int, dict[str, Any]]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Nest:
    """One mapped nest reduced to the simulator's columns (whole op part, no gating)."""

    compute: float
    cycles: float
    memory: float
    stalls: dict[str, float]
    energy_pj: dict[str, float]
    traffic: dict[str, float]
    mac_pj: float


def new_mapper(arch: ArchSpec) -> Mapper:
    """The mapper ``arch``'s ``mapping`` section asks for (seed, samples)."""
    return Mapper(samples=arch.mapping.samples, seed=arch.mapping.seed)


def limits(arch: ArchSpec, table: OpTable) -> tuple[str, ...]:
    """What the nest path leaves out on this design and workload, one note each."""
    c, sp, mem = arch.compute, arch.compute.sparsity, arch.memory
    head = "memory_model nest: "
    notes = [
        head + f"GEMM-like ops costed by the loop-nest engine ({c.dataflow} preset, mapper seed "
        f"{arch.mapping.seed}); not modelled yet: DRAM burst and row-buffer effects "
        "(DRAM at the spec's sustained bandwidth, its latency once per nest), inter-op activation reuse "
        "(every op reads its inputs from DRAM and writes its outputs there)"
    ]
    if arch.mapping.conv_view == "im2col" and bool(np.any(table.kind == "conv")):
        notes.append(
            head + "convolutions run as their im2col GEMM (mapping.conv_view: im2col): the filter window R*S*C is "
            "one reduction dimension and the input is the expanded matrix, so its traffic counts each input "
            "pixel once per window position that reads it (no sliding-window reuse)"
        )
    if c.fused_attention and bool(np.any(table.kind == "attention")):
        notes.append(
            head + "fused attention not modelled yet: Q·Kᵀ and P·V are separate nests and the scores go "
            "through DRAM and the vector unit's softmax"
        )
    if sp.act_zero_gating or sp.weight_zero_gating:
        notes.append(head + "zero gating saves MAC energy only (scratchpad and buffer accesses still charged)")
    if sp.block_skip is not None:
        notes.append(head + "block skipping not modelled yet: dense cycles, skipped_cycles 0")
    if sp.compact_activations:
        notes.append(head + "compacted activations not modelled yet: dense DRAM and buffer bytes")
    if arch.numerics.temporal_delta.enabled or (arch.numerics.temporal_delta.enabled is None and sp.temporal_delta):
        notes.append(head + "temporal deltas not modelled yet: every step runs dense")
    if mem.weight_residency == "across_steps":
        notes.append(head + "weight residency across steps not modelled yet: weights come from DRAM every step")
    return tuple(notes)


def _one(r: NestResult, hw: Hardware, narch: NestArch) -> _Nest:
    """``r`` with the one-level model's bank conflicts, DRAM latency and stall names."""
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
    serial = sum(v for k, v in r.exposed_cycles_by_level.items() if not shared[k].double_buffered)
    first = sum(v for k, v in r.exposed_cycles_by_level.items() if shared[k].double_buffered)
    lat = hw.dram_latency_cycles if r.traffic_bytes["dram"] > 0 else 0.0
    stalls = {"dram": busy - onchip, "fill_drain": first + lat, "serial": serial, "sram": onchip - compute}
    energy: dict[str, float] = {}
    for name, e in r.energy_pj_by_level.items():
        key = "compute" if name == "mac" else "rf" if name in per_pe else name
        energy[key] = energy.get(key, 0.0) + e
    return _Nest(
        compute=compute,
        cycles=busy + serial + first + lat,
        memory=max(r.transfer_cycles.values()),
        stalls=stalls,
        energy_pj=energy,
        traffic=dict(r.traffic_bytes),
        mac_pj=r.macs * narch.mac_pj,
    )


def fmap_zero_fracs(table: OpTable) -> tuple[np.ndarray, np.ndarray]:
    """Per op, the zero fractions of its input and its output feature maps (mean over steps; a
    step that did not record the statistic counts as 0).

    Inputs: the workload's ``act_zero_frac``. Outputs: the workload's ``out_zero_frac`` where an
    op records it (a layer list may; the tracer does not yet), else the mean ``act_zero_frac`` of
    the ops that read the output (``models.workload.graph``; a workload without tensor ids has
    none), else 0."""
    z_in = table.stat("act_zero_frac").mean(axis=0)
    z_out = np.zeros(table.n_ops)
    readers: dict[int, list[int]] = {}
    for e in edges(table.workload):
        readers.setdefault(e.producer, []).append(e.consumer)
    for i, cons in readers.items():
        z_out[i] = float(np.mean(z_in[cons]))
    recorded = table.has_stat("out_zero_frac").any(axis=0)
    z_out = np.where(recorded, table.stat("out_zero_frac").mean(axis=0), z_out)
    return z_in, z_out


def _coded(narch: NestArch, code: RunLengthCode, z_in: float, z_out: float) -> NestArch:
    """``narch`` with DRAM storing the op's fmaps that ``code.operands`` names in ``code``
    (weights plain, as Eyeriss's filters: JSSC 2017 Sec. IV-B)."""
    ratio_in = code.ratio(z_in) if "act" in code.operands else 1.0
    ratio_out = code.ratio(z_out) if "out" in code.operands else 1.0
    dram = replace(narch.levels[-1], compression=(1.0, ratio_in, ratio_out))
    return replace(narch, levels=(*narch.levels[:-1], dram))


def _check_code_widths(name: str, code: RunLengthCode, hw: Hardware) -> None:
    """The code's values must be the width of the words it codes (its ratio is per plain word)."""
    widths = {"act": (hw.a_bits, "input activations"), "out": (hw.o_bits, "final outputs")}
    for operand in code.operands:
        bits, what = widths[operand]
        if code.value_bits != bits:
            raise SimulationError(
                f"{name}: the DRAM code's {code.value_bits}-bit values do not match the {bits}-bit {what} it "
                f"codes (memory.dram.compression.value_bits; the numerics' formats set the widths)"
            )


def evaluate_table(
    table: OpTable,
    arch: ArchSpec,
    objective: str | None = None,
    mapper: Mapper | None = None,
    *,
    dram_code: RunLengthCode | None = None,
) -> NestCosts:
    """Cost every op of ``table`` on ``arch`` with the nest engine (see the module docstring).

    ``dram_code``: DRAM stores the feature maps ``dram_code.operands`` names in this run-length
    code (:mod:`simulator.cost.nest.compression`; ``simulator.evaluation`` passes the spec's
    ``memory.dram.compression``), at the zero fractions of :func:`fmap_zero_fracs`; the mapper
    sees the coded bytes. Its values must be the activations' width (``value_bits``)."""
    hw = hardware(arch)
    if hw.mpc != 1:
        raise SimulationError(
            f"{arch.name}: memory_model nest models one MAC per PE per cycle; this design runs {hw.precision} "
            f"at {hw.mpc} MACs per PE per cycle (packed precision is not modelled yet): use memory_model one_level"
        )
    if mapper is None:
        mapper = new_mapper(arch)
    elif (mapper.seed, mapper.samples) != (arch.mapping.seed, arch.mapping.samples):
        raise SimulationError(
            f"{arch.name}: the mapper passed in has seed {mapper.seed} and {mapper.samples} samples, the design "
            f"asks for seed {arch.mapping.seed} and {arch.mapping.samples} (mapping.seed, mapping.samples)"
        )
    if dram_code is not None:
        _check_code_widths(arch.name, dram_code, hw)
    objective = objective or arch.mapping_objective
    if objective not in ("edp", "energy", "latency"):
        raise SimulationError(f"unknown mapping objective {objective!r}; allowed: edp, energy, latency")
    narch = from_spec(arch)
    preset = PRESETS[arch.compute.dataflow]
    gemm_ops = sorted(set(table.g_op.tolist()))
    z_in, z_out = fmap_zero_fracs(table) if dram_code is not None else (None, None)
    parts: dict[int, list[_Nest]] = {}
    info: dict[int, dict[str, Any]] = {}
    for i in gemm_ops:
        op = table.workload.ops[i]
        nests = problems(op, arch.mapping.conv_view)
        if not nests:
            raise SimulationError(
                f"op {op.name!r} ({op.kind}) has GEMM rows but no loop nest (simulator.cost.nest.ops)"
            )
        op_arch = narch
        if dram_code is not None and z_in is not None and z_out is not None:
            op_arch = _coded(narch, dram_code, z_in[i], z_out[i])
        results = [mapper.best(p, op_arch, preset, objective) for p in nests]  # type: ignore[arg-type]
        parts[i] = [_one(r, hw, op_arch) for r in results]
        info[i] = {
            "memory_model": "nest",
            "dataflow": arch.compute.dataflow,
            "precision": hw.precision,
            "objective": objective,
            "nests": [
                {
                    "name": r.problem.name,
                    "bounds": dict(zip(DIMS, r.problem.bounds, strict=True)),
                    "stride": list(r.problem.stride),
                    "copies": r.problem.copies,
                    "mapping": r.mapping.describe(narch),
                    "utilization": r.utilization,
                }
                for r in results
            ],
        }
    return NestCosts(_columns(table, hw, parts, objective), info, limits(arch, table))


def _columns(table: OpTable, hw: Hardware, parts: dict[int, list[_Nest]], objective: str) -> OpCosts:
    """The nests' numbers and the vector unit's as ``[steps, n_ops]`` columns."""
    steps, n = table.steps, table.n_ops
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

    # Vector work: the one-level model's vector unit, no inter-op reuse, attention unfused.
    hw_v = replace(hw, fused_attention=False)
    vc = vector_cost(hw_v, vector_work(table, hw_v), False, False)
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
    traffic = {k: ones * v for k, v in traffic_g.items()}
    traffic["dram"] = traffic.get("dram", np.zeros((steps, n))) + ones * dram_v
    for j, lv in enumerate(hw.levels):
        moved = vc.level_rd_bytes[j] + vc.level_wr_bytes[j]
        traffic[lv.name] = traffic.get(lv.name, np.zeros((steps, n))) + ones * moved
    stalls = {k: ones * (stalls_g[k] + stalls_v[k]) for k in STALLS}
    memory = ones * np.maximum(memory_g, np.maximum((dram_v) / bw, vc.level_cycles))
    macs = table.macs.astype(np.float64)
    util = np.where(cycles > 0, macs / np.maximum(cycles * hw.rows * hw.cols * hw.mpc, 1), 0.0)
    gemm_mask = np.zeros(n, dtype=bool)
    gemm_mask[list(parts)] = True
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
        tiles=ones * np.ones(n),
        units=ones * np.ones(n),
        dram_rd_cycles=ones * (vc.dram_rd_bytes / bw),
        dram_wr_cycles=ones * (vc.dram_wr_bytes / bw),
        level_cycles=ones * vc.level_cycles,
        bound=bound0,
        mapping=Mapping(
            mt=np.zeros(g),
            nt=np.zeros(g),
            kt=np.zeros(g),
            order=np.zeros(g, dtype=np.int64),
            res_in=np.zeros(n, dtype=bool),
            res_out=np.zeros(n, dtype=bool),
            objective=objective,
        ),
        area_mm2=hw.area_mm2,
    )
