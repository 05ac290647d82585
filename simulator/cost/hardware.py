"""A design reduced to the numbers the cost model uses, computed once per :class:`ArchSpec`.

:func:`hardware` resolves everything that does not depend on the workload: operand widths
(from the design's numerics: ``accelerator.numerics.arch_numerics``), MACs per PE per cycle
and energy per MAC of the run precision, every memory level's access energy, bandwidth and
leakage, the DRAM's bandwidth, organisation and energy, and the chip's area. A level or the DRAM
may name a memory technology (``accelerator/tech/memory_tech.yaml``, docs/memory-tech.md): its
energies, density and standby power then come from that table (:func:`level_energy`,
:func:`level_leakage_mw`, :func:`level_area_mm2`); without one, the SRAM model below, unchanged.

Energy per MAC is the spec's ``compute.mac_energy_pj`` of the run precision when given (pJ at
the design's node, used as given), else the cited 45 nm tables (Horowitz ISSCC 2014, multiply +
the PE's adder tree and accumulate, ``accelerator.tech.packed_mac_energy_pj``) scaled to the node.

Supply voltage (``vdd_v``; ``None`` = the node's nominal, unchanged): every energy the node factor
scales (MACs, vector ops, the SRAM model's accesses) is taken at ``vdd_v`` through
``accelerator.tech.node_energy_factor``; the SRAM model's leakage scales by ``vdd_v / nominal``
(``accelerator.tech.voltage``). Energies and leakage the spec gives are used as given; a
technology's pJ/bit, the stacking interface, the wire and DRAM are not supply-scaled.
The clock network (``arch.clock_network``, off by default) is a pJ-per-cycle figure
(:mod:`simulator.cost.clock`) the cost models charge over each op's cycles.
A per-PE level (register file) is charged per executed MAC: the activation, weight and
accumulator bits read and the accumulator bits written, at the level's per-access energy
(``read_energy_pj`` / ``write_energy_pj`` when the spec gives them, else the SRAM model).

SRAM energy per access comes from the cited fit in :mod:`accelerator.tech`
(``10 pJ · sqrt(size / 8 KB) · width / 64`` at 45 nm, Horowitz ISSCC 2014), evaluated at the
size of ONE BANK (a bank is an independent macro: an access wakes one), plus the wire from the
bank to the array: ``width · fJ/bit/mm · ½·sqrt(level area)`` (DARPA 2008 wire energy).

Bank conflicts: the array issues ``D`` accesses per cycle in lock step (``⌊D⌋`` or ``⌈D⌉`` in a
cycle); ``j`` requests landing on ``B`` banks at random hit ``B·(1 − (1 − 1/B)^j)`` distinct
banks, which is what a cycle serves, capped by the level's bandwidth. Below one access per
cycle nothing conflicts; a single bank serves one access per cycle; many banks approach ``D``.

DRAM efficiency of a stream of contiguous runs of ``L`` bytes: the spec's sustained fraction
(refresh, turnarounds) × burst granularity ``L / (⌈L/burst⌉·burst)`` × row-buffer locality
``(L / (L + P)) / (page / (page + P))`` capped at 1, with ``P`` the bytes a row miss costs
(``accelerator/tech/energy_45nm.yaml``, ``dram_kinds``): long runs stream at the spec's
efficiency; short, scattered runs pay a row activation each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelerator import tech
from accelerator.errors import SimulationError
from accelerator.numerics import FORMAT_BITS, arch_numerics
from accelerator.spec import PRECISION_BITS, ArchSpec, MemoryLevel
from accelerator.tech import memory as tech_memory
from accelerator.tech.memory import memory_technology
from simulator.cost.clock import clock_pj_per_cycle, pe_gates_pj_per_cycle

#: Dataflow codes used in vectorised code (row-stationary only through the nest model,
#: simulator.cost.nest_costs; the spec refuses it with the one-level model).
OS, WS, IS, RS = 0, 1, 2, 3
DATAFLOW_CODE = {"output_stationary": OS, "weight_stationary": WS, "input_stationary": IS, "row_stationary": RS}
#: Operand indices.
ACT, WGT, OUT = 0, 1, 2
OPERANDS = ("act", "weight", "out")
#: Integer/float formats of the numerics mapped to the array precision they run on.
_PRECISION_OF_FORMAT = {
    "fp32": "fp32",
    "fp16": "fp16",
    "bf16": "bf16",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "int8": "int8",
    "int4": "int4",
}


@dataclass(frozen=True)
class Level:
    """One shared (not per-PE) on-chip level, innermost first."""

    name: str
    size_bytes: float
    banks: int
    access_bytes: float  # bytes per access (width_bits / 8)
    bandwidth_bytes_per_cycle: float  # min(spec bandwidth, banks · access_bytes)
    read_pj: float  # per access
    write_pj: float  # per access
    leakage_mw: float
    double_buffered: bool
    holds: tuple[bool, bool, bool]  # act, weight, out
    #: Per operand (act, weight, out): the level holds two tiles of it and loads the next from its
    #: parent while the current one is in use (the spec's ``prefetch``: Eyeriss's GLB preloads the
    #: next pass's filters, JSSC 2017 Sec. V-A); only on a level that is not double-buffered.
    prefetched: tuple[bool, bool, bool] = (False, False, False)
    #: Per operand (act, weight, out): the bytes that are its own (the spec's ``partitions``: Eyeriss's
    #: 8 kB of GLB filters, JSSC 2017 Sec. V-A); ``math.inf``: it shares the pool
    #: (:mod:`simulator.cost.capacity`).
    partition_bytes: tuple[float, float, float] = (math.inf, math.inf, math.inf)


@dataclass(frozen=True)
class Hardware:
    """Everything the cost model needs of one design (units in the names)."""

    name: str
    dataflow: int
    rows: int
    cols: int
    precision: str  # run precision of the MACs (from the numerics' operand formats)
    mpc: int  # MACs per PE per cycle at the run precision
    a_bits: int
    w_bits: int
    o_bits: int
    p_bits: int  # partial sums / accumulators
    mac_pj: float
    delta_enabled: bool
    delta_precision: str
    delta_bits: int
    delta_mpc: int
    delta_mac_pj: float
    vector_pj: float
    vector_lanes: int
    clock_hz: float
    dram_latency_cycles: float
    dram_bytes_per_cycle: float  # peak × the spec's efficiency
    dram_pj_per_bit: float
    dram_burst_bytes: float
    dram_page_bytes: float
    dram_miss_bytes: float
    levels: tuple[Level, ...]
    home: tuple[int, int, int]  # per operand: index of its tile level, −1 = streamed from DRAM
    stream: tuple[int, int, int]  # per operand: innermost level holding it, −1 = none
    rf_pj_per_mac: float  # per-PE register file energy per executed MAC (0 without one)
    leakage_mw: float  # all levels + static logic
    act_gating: bool
    weight_gating: bool
    near_zero_acts: bool  # numerics.zero_skip thresholds: near-zero activations count as zeros
    near_zero_weights: bool
    block: tuple[int, int] | None  # skippable zero-block granularity (rows, reduction)
    compact_acts: bool
    metadata_bits_per_block: int
    fused_attention: bool
    dma_engines: int
    area_mm2: float
    # weight residency across steps: index of the level keeping the model's weights (its
    # size_bytes already reduced by them, simulator.cost.residency), −1 = weights per op
    resident_level: int = -1
    # the clock network's energy per cycle (simulator.cost.clock), None: the design does not charge one
    clock_pj_per_cycle: float | None = None
    # of it, the PEs' own clock gates per cycle with idle_pe_gating (the rest is charged by an op's PE
    # coverage, simulator.cost.clock.clock_energy), None: every PE clocked on every cycle
    clock_pe_gates_pj_per_cycle: float | None = None

    @property
    def static_pj_per_cycle(self) -> float:
        """Energy that runs with time, pJ per cycle: leakage (all levels and static logic) and the
        clock network (0 when the design charges none); both mappers add it to a candidate's energy."""
        return self.leakage_mw * 1e-3 / self.clock_hz * 1e12 + (self.clock_pj_per_cycle or 0.0)


def level_energy(lv: MemoryLevel, node: float, vdd_v: float | None = None) -> tuple[float, float]:
    """(read, write) pJ per access of ``lv.width_bits``.

    The spec's ``read_energy_pj`` / ``write_energy_pj`` when given (at the design's node, used as
    given). Else the level's technology (``accelerator/tech/memory_tech.yaml``, docs/memory-tech.md):
    a row with ``read_pj_per_bit`` costs ``width · pJ/bit`` (used as given, interface included where
    its source says so); without one, the SRAM fit of :mod:`accelerator.tech` at one bank's size
    (Horowitz ISSCC 2014, node-scaled by Stillmaker & Baas 2017) plus ``width · fJ/bit/mm ·
    ½·sqrt(level area)`` (DARPA 2008 wire energy), × the row's ``read_over_sram_model``. Writes:
    the row's ``write_pj_per_bit`` × width, else reads × the SRAM table's ``write_over_read``. A
    stacked level (``stacking``) adds the interface's pJ/bit × width to both. No technology is
    today's SRAM model, unchanged. ``vdd_v``: the supply of the SRAM model (``None``: nominal)."""
    row = memory_technology(lv.technology) if lv.technology is not None else None
    link = tech_memory.interface_pj_per_bit(lv.stacking) * lv.width_bits
    if lv.read_energy_pj is not None:
        read = lv.read_energy_pj
    elif row is not None and row.read_pj_per_bit is not None:
        read = row.read_pj_per_bit * lv.width_bits + link
    else:
        bank = max(lv.size_bytes / lv.banks, 1)
        area = tech.sram_area_mm2(lv.size_bytes, node)
        wire = lv.width_bits * tech.wire_energy_pj_per_bit_mm() * 0.5 * math.sqrt(area)
        sram = tech.sram_access_energy_pj(int(bank), lv.width_bits, node, vdd_v) + wire
        read = sram * (row.read_over_sram_model if row is not None else 1.0) + link
    if lv.write_energy_pj is not None:
        write = lv.write_energy_pj
    elif row is not None and row.write_pj_per_bit is not None:
        write = row.write_pj_per_bit * lv.width_bits + link
    else:
        ratio = float(tech.energy_table()["sram"]["write_over_read"]["value"])
        given = lv.read_energy_pj is not None  # used as given: no interface to take out
        write = read * ratio if given else (read - link) * ratio + link
    return read, write


def level_leakage_mw(lv: MemoryLevel, node: float, vdd_v: float | None = None) -> float:
    """Static power of one instance of ``lv`` incl. refresh, mW: the spec's ``leakage_mw``, else the
    SRAM leakage model (at ``vdd_v``; ``None``: nominal) × the technology's ``standby_over_sram``
    (eDRAM 0.2, NVM 0; the spec refuses a technology without one and without ``leakage_mw``)."""
    if lv.leakage_mw is not None:
        return lv.leakage_mw
    sram = tech.sram_leakage_mw(lv.size_bytes, node, vdd_v)
    if lv.technology is None:
        return sram
    factor = memory_technology(lv.technology).standby_over_sram
    if factor is None:
        raise SimulationError(f"level {lv.name!r}: {lv.technology} has no standby power in the table; give leakage_mw")
    return sram * factor


def level_area_mm2(lv: MemoryLevel, node: float) -> float:
    """Silicon area of one instance of ``lv``, mm²: ``size · 8 / density`` for a technology with a
    density in the table, else the SRAM area model; a stacked die without a published density
    (dram_stacked) counts 0 (docs/memory-tech.md). Stacked dies count as silicon, not footprint."""
    row = memory_technology(lv.technology) if lv.technology is not None else None
    if row is not None and row.density_bits_per_mm2 is not None:
        return lv.size_bytes * 8.0 / row.density_bits_per_mm2
    if row is not None and row.cls != "sram":
        return 0.0
    return tech.sram_area_mm2(lv.size_bytes, node)


def _leakage_mw(lv: MemoryLevel, node: float, pes: int, vdd_v: float | None) -> float:
    return level_leakage_mw(lv, node, vdd_v) * (pes if lv.per_pe else 1)


def _run_precision(arch: ArchSpec, a_fmt: str, w_fmt: str) -> str:
    """The supported precision the MACs run at: the wider operand's, else the array's."""
    c = arch.compute
    wide = a_fmt if FORMAT_BITS[a_fmt] >= FORMAT_BITS[w_fmt] else w_fmt
    p = _PRECISION_OF_FORMAT.get(wide, c.precision)
    return p if p in c.macs_per_pe_per_cycle else c.precision


def mac_energy_pj(arch: ArchSpec, precision: str, p_bits: int, mpc: int) -> float:
    """Energy of one MAC at ``precision`` in pJ: the spec's ``compute.mac_energy_pj`` (at the
    design's node, used as given) or the cited 45 nm tables scaled to the node and supply."""
    given = arch.compute.mac_energy_pj.get(precision)  # type: ignore[call-overload]
    if given is not None:
        return float(given)
    return tech.packed_mac_energy_pj(precision, arch.technology_nm, p_bits, mpc, arch.vdd_v)


def area_mm2(arch: ArchSpec) -> float:
    """PE array + vector unit + SRAM, in mm².

    A PE is :func:`accelerator.tech.pe_area_um2`: every multiplier of every supported
    precision, adder trees, accumulator, operand registers and control, as the RTL tile has them.
    """
    c = arch.compute
    node = arch.technology_nm
    pes = c.rows * c.cols
    mpcs: dict[str, int] = {str(k): v for k, v in c.macs_per_pe_per_cycle.items()}
    mac = tech.pe_area_um2(mpcs, node, c.accumulator_bits)
    vfmt = "fp16" if c.precision.startswith("int") else c.precision
    lanes = c.vector_lanes or c.cols
    vec = lanes * (tech.unit_area_um2("mult", vfmt, node) + tech.unit_area_um2("add", vfmt, node))
    sram = sum(level_area_mm2(lv, node) * (pes if lv.per_pe else 1) for lv in arch.memory.levels)
    return (mac * pes + vec) * 1e-6 + sram


def dram_pj_per_bit(arch: ArchSpec) -> float:
    """Off-chip energy per bit incl. I/O from the cited tables: the ``technology`` row
    (``memory_tech.yaml`` off_chip or an ``energy_45nm.yaml`` kind), else the ``kind`` row."""
    d = arch.memory.dram
    if d.technology is not None:
        return tech_memory.off_chip_technology(d.technology).pj_per_bit
    return tech.dram_energy_pj_per_bit(d.organisation_kind)


def hardware(arch: ArchSpec) -> Hardware:
    """Resolve ``arch`` into a :class:`Hardware` record."""
    c, mem, node, vdd = arch.compute, arch.memory, arch.technology_nm, arch.vdd_v
    num = arch_numerics(arch)
    a_fmt, w_fmt = str(num.activations.format), str(num.weights.format)
    precision = _run_precision(arch, a_fmt, w_fmt)
    mpcs: dict[str, int] = {str(k): v for k, v in c.macs_per_pe_per_cycle.items()}
    mpc = mpcs[precision]
    p_bits = FORMAT_BITS[str(num.accumulators.format)]
    d_fmt = str(num.deltas.format)
    d_prec = _PRECISION_OF_FORMAT.get(d_fmt, precision)
    d_prec = d_prec if d_prec in mpcs else precision
    pes = c.rows * c.cols
    shared = [lv for lv in mem.levels if not lv.per_pe]
    levels = []
    for lv in shared:
        read, write = level_energy(lv, node, vdd)
        parts = lv.partitions or {}
        levels.append(
            Level(
                name=lv.name,
                size_bytes=float(lv.size_bytes),
                banks=lv.banks,
                access_bytes=lv.width_bits / 8.0,
                bandwidth_bytes_per_cycle=min(lv.bandwidth_bytes_per_cycle, lv.banks * lv.width_bits / 8.0),
                read_pj=read,
                write_pj=write,
                leakage_mw=_leakage_mw(lv, node, pes, vdd),
                double_buffered=lv.double_buffered,
                holds=tuple(x in lv.holds for x in OPERANDS),  # type: ignore[arg-type]
                prefetched=tuple(x in lv.prefetch for x in OPERANDS),  # type: ignore[arg-type]
                partition_bytes=tuple(float(parts[x].size_bytes) if x in parts else math.inf for x in OPERANDS),  # type: ignore[arg-type,index]
            )
        )
    holders = [[i for i, lv in enumerate(levels) if lv.holds[x]] for x in range(3)]
    home = tuple(max(h, default=-1) for h in holders)
    stream = tuple(min(h, default=-1) for h in holders)
    rf = next((lv for lv in mem.levels if lv.per_pe), None)
    a_bits = FORMAT_BITS[a_fmt]
    w_bits = FORMAT_BITS[w_fmt]
    rf_pj = 0.0
    if rf is not None:
        need = (a_bits + w_bits + p_bits) / 8.0
        if rf.size_bytes < need:
            raise SimulationError(
                f"{arch.name}: per-PE level {rf.name!r} holds {rf.size_bytes} B, less than one "
                f"activation, one weight and one accumulator ({need:g} B)"
            )
        read, write = level_energy(rf.model_copy(update={"banks": 1}), node, vdd)
        # Per MAC: read both operands, read-modify-write the accumulator (Eyeriss-style RF).
        rf_pj = read / rf.width_bits * (a_bits + w_bits + p_bits) + write / rf.width_bits * p_bits
    org = tech.dram_organisation(mem.dram.organisation_kind)
    sp = c.sparsity
    zs = num.zero_skip
    die_mm2 = area_mm2(arch)
    return Hardware(
        name=arch.name,
        dataflow=DATAFLOW_CODE[c.dataflow],
        rows=c.rows,
        cols=c.cols,
        precision=precision,
        mpc=mpc,
        a_bits=a_bits,
        w_bits=w_bits,
        o_bits=a_bits,
        p_bits=p_bits,
        mac_pj=mac_energy_pj(arch, precision, p_bits, mpc),
        delta_enabled=bool(num.temporal_delta.enabled),
        delta_precision=d_prec,
        delta_bits=FORMAT_BITS[d_fmt] if d_fmt in FORMAT_BITS else PRECISION_BITS[d_prec],
        delta_mpc=mpcs[d_prec],
        delta_mac_pj=mac_energy_pj(arch, d_prec, p_bits, mpcs[d_prec]),
        vector_pj=tech.vector_op_energy_pj(c.precision, node, vdd),
        vector_lanes=c.vector_lanes or c.cols,
        clock_hz=arch.clock_ghz * 1e9,
        dram_latency_cycles=mem.dram.latency_ns * arch.clock_ghz,
        dram_bytes_per_cycle=mem.dram.bandwidth_gb_per_s * mem.dram.efficiency / arch.clock_ghz,
        dram_pj_per_bit=mem.dram.energy_pj_per_bit or dram_pj_per_bit(arch),
        dram_burst_bytes=org["burst_bytes"],
        dram_page_bytes=org["page_bytes"],
        dram_miss_bytes=org["row_miss_bytes"],
        levels=tuple(levels),
        home=home,  # type: ignore[arg-type]
        stream=stream,  # type: ignore[arg-type]
        rf_pj_per_mac=rf_pj,
        leakage_mw=sum(_leakage_mw(lv, node, pes, vdd) for lv in mem.levels) + arch.static_power_mw,
        act_gating=sp.act_zero_gating,
        weight_gating=sp.weight_zero_gating,
        near_zero_acts=zs.act_threshold > 0 or zs.act_threshold_rel > 0,
        near_zero_weights=zs.weight_threshold > 0 or zs.weight_threshold_rel > 0,
        block=tuple(sp.block_skip) if sp.block_skip is not None else None,  # type: ignore[arg-type]
        compact_acts=sp.compact_activations and sp.block_skip is not None,
        metadata_bits_per_block=sp.metadata_bits_per_block,
        fused_attention=c.fused_attention,
        dma_engines=mem.dma_engines,
        area_mm2=die_mm2,
        clock_pj_per_cycle=clock_pj_per_cycle(arch, die_mm2),
        clock_pe_gates_pj_per_cycle=pe_gates_pj_per_cycle(arch, die_mm2),
    )


def bank_rate(accesses: np.ndarray, cycles: np.ndarray, level: Level) -> np.ndarray:
    """Accesses per cycle ``level`` sustains when ``accesses`` arrive over ``cycles``."""
    demand = accesses / np.maximum(cycles, 1.0)
    b = float(level.banks)
    k = np.floor(demand)
    frac = demand - k
    q = 1.0 - 1.0 / b
    # Cycles carry ⌊D⌋ or ⌈D⌉ requests; j random requests hit b·(1 − q^j) distinct banks.
    distinct = b * (1.0 - q**k * (1.0 - frac + frac * q))
    rate = np.minimum(distinct, level.bandwidth_bytes_per_cycle / level.access_bytes)
    return np.maximum(rate, 1e-300)


def dram_efficiency(run_bytes: np.ndarray, hw: Hardware) -> np.ndarray:
    """Fraction of the spec's sustained DRAM bandwidth a stream of ``run_bytes`` runs gets."""
    run = np.maximum(run_bytes, 1.0)
    burst = hw.dram_burst_bytes
    granular = run / (np.ceil(run / burst) * burst)
    p, page = hw.dram_miss_bytes, hw.dram_page_bytes
    locality = np.minimum((run / (run + p)) / (page / (page + p)), 1.0)
    return granular * locality
