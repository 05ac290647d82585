"""The clock network's energy: every clocked flip-flop of the PE array, every cycle.

A design's ``clock_network`` (``accelerator.spec_clock``) switches it on. Then each cycle of an
op costs ``flops · E_flop``:

- ``flops`` = PEs × (pipeline registers + register-built storage bits). A PE's pipeline
  registers are the ones ``rtl/pe_tile/hdl/pe_tile_pe.v`` builds (docs/rtl.md, "Activity and
  area"; the same count as ``accelerator.tech.pe_area``): the accumulator
  (``accumulator_bits``), two operand lanes (activation and weight, ``max(bits · MACs per
  cycle)`` bits each) and one fire flag per packed MAC; the synthesised 4×4 tile has 50 per PE,
  which this count gives for its spec. The storage bits are the per-PE levels or partitions the
  spec lists in ``register_storage`` (small scratchpads built of flip-flops, not SRAM macros).
- ``E_flop`` = the spec's ``flop_energy_fj`` when given (used as given), else the cited model of
  ``accelerator/tech/clock_45nm.yaml`` at 45 nm / 0.9 V (:func:`flop_clock_parts`), carried to the
  design's node and supply by ``accelerator.tech.node_energy_factor`` (Stillmaker & Baas 2017):

  - the clock pin and the H-tree's wire, ``(C_pin + 1.5 · pitch · c_wire) · Vdd²``: ``C_pin`` the
    NanGate45 DFF_X1 clock pin, ``c_wire`` the clock layer's capacitance per µm, and 1.5 sink
    pitches the wire an H-tree spends per sink, with the sinks spread evenly over the modelled die
    (``pitch = sqrt(die area / flops)``);
  - the flop's own clock inverters: the Liberty internal energy of the DFF_X1 clock pin per
    cycle when its output holds (``flop_clock_internal_fj``);
  - the leaf clock buffers: one BUF_X4 (nangate45's clock-tree buffer) per cluster of sinks, its
    input pin and internal energy shared by the sinks a TritonCTS cluster holds (at most 50, within
    a 20 µm diameter: ``min(50, π · 10² / pitch²)``, at least one).

  The library's energies are at 1.1 V; Stillmaker & Baas' 45 nm polynomial carries them to 0.9 V.

Gating (``clock_network.storage_gating``): ``none`` clocks every counted flop on every cycle of an
op, stalls included. ``word`` gives each word of register-built storage (the level's ``width_bits``)
an integrated clock gate (NanGate45 CLKGATETST_X1: its clock pin, wire and buffer share as a flop's,
and its Liberty internal energy when closed), clocked every cycle, and clocks the flops of one
written word per gated storage per cycle (pin, wire and internal energy; one write port, so an
upper bound on the writes): per PE and cycle ``pipeline · E_flop + words · E_gate + word bits ·
E_written``, as synthesis gates a register bank with a write enable.

Idle PEs (``clock_network.idle_pe_gating``): off, every PE is clocked on every cycle of every op.
On, each PE has its own clock gate (NanGate45 CLKGATETST_X1, costed as :func:`gate_clock_fj`, one
more sink per PE), clocked every cycle, and an op clocks the PE part above (pipeline, word gates,
written words) only in the PEs its mapping covers spatially: per cycle ``coverage · P · E_PE + P ·
E_gate``, ``coverage`` the covered fraction of the ``P`` PEs, as "the PEs that are not covered by
any sets are clock gated" (Chen et al., JSSC 2017, Sec. IV-A, Eyeriss). The cost models give the
coverage (:func:`clock_energy`): the nest engine the product of a mapping's spatial factors
(weighted by each nest's compute cycles), the one-level model the rows × columns of the array an
op's GEMM reaches (:func:`simulator.cost.array.spatial_coverage`, weighted by its rows' compute
cycles); an op without a mapping (vector work) covers none. The coverage is per op, as the chip
gates per layer: edge folds and stalls inside the op are still clocked.

What it leaves out, so per clocked sink it is a lower bound: the buffers of the tree's upper levels
and flops outside the PEs (buffer and NoC control, the DRAM interface). What it overstates: without
``idle_pe_gating`` idle PEs are clocked, and without ``storage_gating: word`` so is register-built
storage that holds its value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from accelerator import tech
from accelerator.errors import SimulationError
from accelerator.spec import PRECISION_BITS, ArchSpec
from accelerator.spec_clock import register_bits_per_pe, register_words_per_pe

if TYPE_CHECKING:
    from simulator.cost.hardware import Hardware

#: The cited table (capacitances at 45 nm, with sources).
TABLE = Path(tech.__file__).parent / "clock_45nm.yaml"


@cache
def clock_table() -> dict[str, Any]:
    """``accelerator/tech/clock_45nm.yaml`` as loaded."""
    with TABLE.open() as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def _value(name: str) -> float:
    return float(clock_table()[name]["value"])


def pe_pipeline_flops(macs_per_pe_per_cycle: dict[str, int], accumulator_bits: int) -> int:
    """Flip-flops of one PE's pipeline: accumulator, two operand lanes and a fire flag per packed MAC
    (``rtl/pe_tile``'s PE, counted as :func:`accelerator.tech.pe_area` counts its area)."""
    lane_bits = max(PRECISION_BITS[p] * n for p, n in macs_per_pe_per_cycle.items())
    packed = max(macs_per_pe_per_cycle.values())
    return accumulator_bits + 2 * lane_bits + packed


@dataclass(frozen=True)
class ClockedPE:
    """What the clock drives in one PE on one cycle."""

    #: flip-flops clocked every cycle: the pipeline, and the register-built storage when not gated
    flops: int
    #: word clock gates (``storage_gating: word``), clocked every cycle
    gates: int
    #: flops of the written words behind open gates: one word per gated storage (an upper bound)
    written_bits: int

    @property
    def sinks(self) -> int:
        """The clock tree's sinks in the PE: its flops and its gates (gated flops hang off a gate)."""
        return self.flops + self.gates


def clocked_pe(arch: ArchSpec) -> ClockedPE:
    """One PE's clocked flops, word gates and written bits per cycle (module docstring)."""
    c = arch.compute
    mpcs = {str(k): v for k, v in c.macs_per_pe_per_cycle.items()}
    pipeline = pe_pipeline_flops(mpcs, c.accumulator_bits)
    if arch.clock_network.storage_gating == "none":
        return ClockedPE(pipeline + register_bits_per_pe(arch.clock_network, arch.memory), 0, 0)
    words = register_words_per_pe(arch.clock_network, arch.memory)
    return ClockedPE(pipeline, sum(n for n, _ in words), sum(bits for _, bits in words))


def clocked_flops(arch: ArchSpec) -> int:
    """Sinks the clock tree drives: PEs × (flops clocked every cycle + word clock gates, + the PE's own
    clock gate with ``idle_pe_gating``); without gating, PEs × (pipeline registers + register-built
    storage bits)."""
    c = arch.compute
    own_gate = 1 if arch.clock_network.idle_pe_gating else 0
    return c.rows * c.cols * (clocked_pe(arch).sinks + own_gate)


@dataclass(frozen=True)
class FlopClockParts:
    """One flip-flop's clock energy per cycle in fJ at 45 nm / 0.9 V, by part (see the module
    docstring; ``accelerator/tech/clock_45nm.yaml`` cites each number)."""

    #: the clock pin and the H-tree wire per sink, (C_pin + 1.5 pitch c_wire) Vdd^2
    pin_wire_fj: float
    #: the flop's own clock inverters (Liberty internal energy of the clock pin, output held)
    internal_fj: float
    #: the flop's share of its leaf clock buffer (input pin and internal energy)
    buffer_fj: float
    #: sinks one leaf buffer drives (TritonCTS cluster bounds at this pitch)
    sinks_per_buffer: float

    @property
    def total_fj(self) -> float:
        """The three parts together."""
        return self.pin_wire_fj + self.internal_fj + self.buffer_fj


def sinks_per_cluster(pitch_um: float) -> float:
    """Sinks a TritonCTS leaf cluster holds at ``pitch_um`` between sinks: at most the size bound,
    at most the sinks a disc of the diameter bound covers (pi r^2 / pitch^2), at least one."""
    radius_um = _value("cts_cluster_max_diameter_um") / 2.0
    by_area = math.pi * radius_um * radius_um / (pitch_um * pitch_um) if pitch_um > 0 else math.inf
    return max(1.0, min(_value("cts_cluster_max_sinks"), by_area))


def flop_clock_parts(flops: int, die_mm2: float) -> FlopClockParts:
    """The cited model's clock energy of one flip-flop per cycle at 45 nm / 0.9 V, by part, for
    ``flops`` sinks spread evenly over ``die_mm2``."""
    t = clock_table()
    v45 = float(t["vdd_v"])
    # Liberty energies are at the library's 1.1 V: carried to 0.9 V as every energy here is
    lib_to_base = tech.node_energy_factor(45, v45) / tech.node_energy_factor(45, _value("liberty_vdd_v"))
    pitch_um = math.sqrt(die_mm2 * 1e6 / max(flops, 1))
    wire_ff = _value("htree_wire_per_sink_pitch") * pitch_um * _value("clock_wire_ff_per_um")
    pin_wire_ff = _value("flop_clock_pin_ff") + wire_ff
    sinks = sinks_per_cluster(pitch_um)
    buffer_fj = _value("cts_buffer_input_ff") * v45 * v45 + _value("cts_buffer_internal_fj") * lib_to_base
    return FlopClockParts(
        pin_wire_fj=pin_wire_ff * v45 * v45,
        internal_fj=_value("flop_clock_internal_fj") * lib_to_base,
        buffer_fj=buffer_fj / sinks,
        sinks_per_buffer=sinks,
    )


def flop_clock_fj(arch: ArchSpec, flops: int, die_mm2: float) -> float:
    """Clock energy of one flip-flop per cycle in fJ at the design's node and supply: the spec's
    ``flop_energy_fj``, else the cited model (:func:`flop_clock_parts`) scaled from 45 nm / 0.9 V."""
    given = arch.clock_network.flop_energy_fj
    if given is not None:
        return given
    parts = flop_clock_parts(flops, die_mm2)
    return parts.total_fj * tech.node_energy_factor(arch.technology_nm, arch.vdd_v)


def gate_clock_fj(arch: ArchSpec, sinks: int, die_mm2: float) -> float:
    """Clock energy of one closed word clock gate per cycle in fJ at the design's node and supply: its
    clock pin and H-tree wire, its Liberty internal energy (CLKGATETST_X1, gate closed) and its leaf
    buffer share, as a flop's (:func:`flop_clock_parts`), scaled from 45 nm / 0.9 V."""
    t = clock_table()
    v45 = float(t["vdd_v"])
    lib_to_base = tech.node_energy_factor(45, v45) / tech.node_energy_factor(45, _value("liberty_vdd_v"))
    flop = flop_clock_parts(sinks, die_mm2)
    pin_ff = _value("icg_clock_pin_ff") - _value("flop_clock_pin_ff")  # the gate's pin instead of a flop's
    at45 = flop.pin_wire_fj + pin_ff * v45 * v45 + _value("icg_clock_internal_fj") * lib_to_base + flop.buffer_fj
    return at45 * tech.node_energy_factor(arch.technology_nm, arch.vdd_v)


def written_flop_fj(arch: ArchSpec, sinks: int, die_mm2: float) -> float:
    """Clock energy in fJ of a flop behind an open word gate: its pin, wire and internal energy (the
    spec's ``flop_energy_fj`` when given); its leaf buffer is the gate, whose share is charged already."""
    given = arch.clock_network.flop_energy_fj
    if given is not None:
        return given
    p = flop_clock_parts(sinks, die_mm2)
    return (p.pin_wire_fj + p.internal_fj) * tech.node_energy_factor(arch.technology_nm, arch.vdd_v)


def clock_pj_per_cycle(arch: ArchSpec, die_mm2: float) -> float | None:
    """The clock network's energy per cycle in pJ, ``None`` when the design's clock network is off:
    PEs × (flops × E_flop + gates × E_gate + written bits × E_written), plus each PE's own clock gate
    with ``idle_pe_gating`` (one more sink per PE: :func:`pe_gates_pj_per_cycle`)."""
    if not arch.clock_network.enabled:
        return None
    pe = clocked_pe(arch)
    pes = arch.compute.rows * arch.compute.cols
    idle = arch.clock_network.idle_pe_gating
    sinks = clocked_flops(arch)
    fj = pe.flops * flop_clock_fj(arch, sinks, die_mm2)
    if pe.gates:
        fj += pe.gates * gate_clock_fj(arch, sinks, die_mm2) + pe.written_bits * written_flop_fj(arch, sinks, die_mm2)
    gates = pe_gates_pj_per_cycle(arch, die_mm2) if idle else 0.0
    return pes * fj * 1e-3 + (gates or 0.0)


def pe_gates_pj_per_cycle(arch: ArchSpec, die_mm2: float) -> float | None:
    """The PEs' own clock gates per cycle in pJ with ``idle_pe_gating`` (every PE's, clocked every
    cycle; part of :func:`clock_pj_per_cycle`, whose rest the cost models charge by an op's PE
    coverage), ``None`` without it."""
    if not (arch.clock_network.enabled and arch.clock_network.idle_pe_gating):
        return None
    pes = arch.compute.rows * arch.compute.cols
    return pes * gate_clock_fj(arch, clocked_flops(arch), die_mm2) * 1e-3


def clock_pj(hw: Hardware, cycles: np.ndarray) -> np.ndarray:
    """Clock energy in pJ of ops lasting ``cycles`` (any shape): cycles × pJ per cycle, 0 when off
    (every PE clocked: use :func:`clock_energy` for a design with ``idle_pe_gating``)."""
    per_cycle = hw.clock_pj_per_cycle or 0.0
    return np.asarray(cycles, dtype=np.float64) * per_cycle


def idle_gating(hw: Hardware) -> bool:
    """Whether ``hw``'s clock network gates the PEs an op does not cover (``idle_pe_gating``)."""
    return hw.clock_pe_gates_pj_per_cycle is not None


def clock_energy(hw: Hardware, cycles: np.ndarray, coverage: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``{"clock": pJ}`` of ops lasting ``cycles`` when the design's clock network is on, else ``{}`` (so
    a design without one keeps its energy components as they were).

    ``coverage``: per op (broadcast against ``cycles``), the fraction of the PEs its mapping covers
    spatially, in [0, 1]; used only with ``idle_pe_gating`` (``cycles · (coverage · PE part + PE
    gates)``), which refuses to cost without it rather than clock every PE."""
    per_cycle, gates = hw.clock_pj_per_cycle, hw.clock_pe_gates_pj_per_cycle
    if per_cycle is None:
        return {}
    if gates is None:
        return {"clock": clock_pj(hw, cycles)}
    if coverage is None:
        raise SimulationError(
            f"{hw.name}: clock_network.idle_pe_gating needs each op's PE coverage, which this cost path does "
            "not know; allowed: idle_pe_gating false, or a memory model that maps the ops (one_level, nest)"
        )
    cov = np.asarray(coverage, dtype=np.float64)
    if cov.size and (not np.isfinite(cov).all() or cov.min() < 0.0 or cov.max() > 1.0 + 1e-12):
        raise SimulationError(f"{hw.name}: PE coverage outside [0, 1]: {cov.min()} .. {cov.max()}; a cost model bug")
    c = np.asarray(cycles, dtype=np.float64)
    return {"clock": c * (np.minimum(cov, 1.0) * (per_cycle - gates) + gates)}


def weighted_coverage(weights: np.ndarray, pes: np.ndarray, groups: np.ndarray, n: int, total_pes: int) -> np.ndarray:
    """Per group (op) of ``n``, the fraction of ``total_pes`` its parts cover: ``sum(weight · pes) /
    (total_pes · sum(weight))`` over the parts in the group (``groups``: each part's op), 0 for a
    group without weight (no mapped work: the array idles)."""
    w = np.asarray(weights, dtype=np.float64)
    num = np.bincount(groups, weights=w * np.asarray(pes, dtype=np.float64), minlength=n)
    den = np.bincount(groups, weights=w, minlength=n)
    return np.divide(num, den * total_pes, out=np.zeros(n), where=den > 0)


def clock_coverage(hw: Hardware, clock: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """The PE coverage a design with ``idle_pe_gating`` charged ``clock`` pJ over ``cycles`` with (the
    inverse of :func:`clock_energy`), for a model that re-times costed ops (the event fidelity); 0 where
    an op took no cycles (no mapped work)."""
    per_cycle, gates = hw.clock_pj_per_cycle, hw.clock_pe_gates_pj_per_cycle
    if per_cycle is None or gates is None:
        raise SimulationError(f"{hw.name}: clock_coverage needs clock_network.idle_pe_gating; a cost model bug")
    pe_pj = per_cycle - gates
    c = np.asarray(cycles, dtype=np.float64)
    rate = np.divide(np.asarray(clock, dtype=np.float64), c, out=np.zeros_like(c), where=c > 0)
    cov = np.divide(rate - gates, pe_pj) if pe_pj > 0 else np.zeros_like(c)
    return np.where(c > 0, np.clip(cov, 0.0, 1.0), 0.0)
