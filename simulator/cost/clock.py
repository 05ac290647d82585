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
- ``E_flop`` = the spec's ``flop_energy_fj`` when given (used as given), else
  ``(C_pin + 1.5 · pitch · c_wire) · Vdd²`` at 45 nm / 0.9 V, carried to the design's node and
  supply by ``accelerator.tech.node_energy_factor`` (Stillmaker & Baas 2017): ``C_pin`` the
  NanGate45 DFF_X1 clock pin, ``c_wire`` the clock layer's capacitance per µm, and 1.5 sink
  pitches the wire an H-tree spends per sink, with the sinks spread evenly over the modelled die
  (``pitch = sqrt(die area / flops)``; ``accelerator/tech/clock_45nm.yaml`` cites each).

What it leaves out, so it is a lower bound of the clock network: the flops' internal clock
inverters, the tree's buffers, flops outside the PEs (buffer and NoC control, the DRAM
interface), and clock gating (the array is clocked on every cycle of an op, stalls included).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from accelerator import tech
from accelerator.spec import PRECISION_BITS, ArchSpec
from accelerator.spec_clock import register_bits_per_pe

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


def clocked_flops(arch: ArchSpec) -> int:
    """Flip-flops the clock network drives: PEs × (pipeline registers + register-built storage bits)."""
    c = arch.compute
    mpcs = {str(k): v for k, v in c.macs_per_pe_per_cycle.items()}
    per_pe = pe_pipeline_flops(mpcs, c.accumulator_bits) + register_bits_per_pe(arch.clock_network, arch.memory)
    return c.rows * c.cols * per_pe


def flop_clock_fj(arch: ArchSpec, flops: int, die_mm2: float) -> float:
    """Clock energy of one flip-flop per cycle in fJ: the spec's ``flop_energy_fj``, else the pin and
    1.5 sink pitches of clock wire over ``die_mm2`` at 45 nm / 0.9 V, C·V², scaled to the node and supply."""
    given = arch.clock_network.flop_energy_fj
    if given is not None:
        return given
    t = clock_table()
    pitch_um = math.sqrt(die_mm2 * 1e6 / max(flops, 1))
    c_ff = _value("flop_clock_pin_ff") + _value("htree_wire_per_sink_pitch") * pitch_um * _value("clock_wire_ff_per_um")
    v45 = float(t["vdd_v"])
    return c_ff * v45 * v45 * tech.node_energy_factor(arch.technology_nm, arch.vdd_v)


def clock_pj_per_cycle(arch: ArchSpec, die_mm2: float) -> float | None:
    """The clock network's energy per cycle in pJ, ``None`` when the design's clock network is off."""
    if not arch.clock_network.enabled:
        return None
    flops = clocked_flops(arch)
    return flops * flop_clock_fj(arch, flops, die_mm2) * 1e-3


def clock_pj(hw: Hardware, cycles: np.ndarray) -> np.ndarray:
    """Clock energy in pJ of ops lasting ``cycles`` (any shape): cycles × pJ per cycle, 0 when off."""
    per_cycle = hw.clock_pj_per_cycle or 0.0
    return np.asarray(cycles, dtype=np.float64) * per_cycle


def clock_energy(hw: Hardware, cycles: np.ndarray) -> dict[str, np.ndarray]:
    """``{"clock": clock_pj(hw, cycles)}`` when the design's clock network is on, else ``{}`` (so a
    design without one keeps its energy components as they were)."""
    if hw.clock_pj_per_cycle is None:
        return {}
    return {"clock": clock_pj(hw, cycles)}
