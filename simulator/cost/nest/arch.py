"""The nest's view of a design: storage levels innermost first, a spatial array, word widths.

Levels run from the per-PE storage (register files, scratchpads) through any number of shared
buffers to DRAM, which is always the last level and holds every operand. A level holds some
operands (the others bypass it), with one shared capacity or a partition per operand (Eyeriss's
filter / ifmap / psum scratchpads), per-operand read and write energies in pJ per bit, a
bandwidth in bytes per cycle per instance and a double-buffered flag.

Below the innermost level the datapath has a one-word register per operand (no energy, no
capacity to choose): a MAC whose innermost loops do not touch an operand keeps it there.

The array fans out under level ``fanout_level`` (the first shared level): the levels below it are
per PE, one instance per PE of ``rows × cols`` (with none, the array's MACs sit right under it).

:func:`from_spec` builds the shared levels and DRAM from an :class:`accelerator.spec.ArchSpec`
through :func:`simulator.cost.hardware.hardware` (the same per-access energies as today's model)
and takes per-PE levels given in Python (:func:`per_pe_level` prices them with the same SRAM
model), until the YAML spec can say them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec, MemoryLevel
from simulator.cost.hardware import _level_energy, hardware
from simulator.cost.nest.problem import OPERANDS

Triple = tuple[float, float, float]  # per operand: weights, inputs, outputs


@dataclass(frozen=True)
class NestLevel:
    """One storage level (units in the names; triples are per operand: weights, inputs, outputs)."""

    name: str
    holds: tuple[bool, bool, bool]
    size_bytes: float  # shared capacity of one instance (math.inf for DRAM)
    read_pj_per_bit: Triple
    write_pj_per_bit: Triple
    bandwidth_bytes_per_cycle: float  # per instance, reads and writes together
    double_buffered: bool = False
    operand_bytes: Triple | None = None  # per-operand partitions; replace size_bytes when given

    def capacity_ok(self, tile_bytes: Triple) -> bool:
        """Whether tiles of ``tile_bytes`` (per operand, already 0 for bypassed ones) fit."""
        mult = 2.0 if self.double_buffered else 1.0
        if self.operand_bytes is not None:
            return all(t * mult <= c for t, c in zip(tile_bytes, self.operand_bytes, strict=True))
        return sum(tile_bytes) * mult <= self.size_bytes


@dataclass(frozen=True)
class NestArch:
    """Levels innermost first (the last is DRAM), the array and word widths in bits."""

    name: str
    levels: tuple[NestLevel, ...]
    rows: int
    cols: int
    fanout_level: int  # the array fans out under this level; levels below it are per PE
    word_bits: Triple  # weights, inputs, partial sums
    output_bits: float  # final outputs written to DRAM
    mac_pj: float
    clock_hz: float

    def __post_init__(self) -> None:
        if not self.levels or not all(self.levels[-1].holds):
            raise SimulationError(f"{self.name}: the last level must be DRAM and hold every operand")
        if not 0 <= self.fanout_level < len(self.levels):
            raise SimulationError(f"{self.name}: fanout_level {self.fanout_level} outside 0..{len(self.levels) - 1}")

    def key(self) -> tuple[object, ...]:
        """Identity for caches (dataclasses of floats and tuples compare by value)."""
        return (self.levels, self.rows, self.cols, self.fanout_level, self.word_bits, self.output_bits, self.mac_pj)


def per_pe_level(
    spec: ArchSpec,
    name: str,
    *,
    operand_bytes: Triple,
    width_bits: int,
    bandwidth_bytes_per_cycle: float,
    read_energy_pj: Triple | None = None,
    write_energy_pj: Triple | None = None,
) -> NestLevel:
    """A per-PE level partitioned per operand (0 bytes = bypass), priced per partition by the
    project's SRAM model at ``spec``'s node (``simulator.cost.hardware``: one bank plus the wire)
    unless per-access energies (pJ per ``width_bits`` access) are given."""
    reads: list[float] = []
    writes: list[float] = []
    for o, size in enumerate(operand_bytes):
        if read_energy_pj is not None:
            rd = read_energy_pj[o]
            wr = write_energy_pj[o] if write_energy_pj is not None else rd
        elif size > 0:
            lv = MemoryLevel(
                name=f"{name}.{OPERANDS[o]}",
                size_bytes=max(int(size), 1),
                per_pe=True,
                width_bits=width_bits,
                bandwidth_bytes_per_cycle=bandwidth_bytes_per_cycle,
            )
            rd, wr = _level_energy(lv, spec.technology_nm)
        else:
            rd = wr = 0.0
        reads.append(rd / width_bits)
        writes.append(wr / width_bits)
    return NestLevel(
        name=name,
        holds=tuple(b > 0 for b in operand_bytes),  # type: ignore[arg-type]
        size_bytes=float(sum(operand_bytes)),
        read_pj_per_bit=tuple(reads),  # type: ignore[arg-type]
        write_pj_per_bit=tuple(writes),  # type: ignore[arg-type]
        bandwidth_bytes_per_cycle=bandwidth_bytes_per_cycle,
        operand_bytes=operand_bytes,
    )


def from_spec(spec: ArchSpec, per_pe: Sequence[NestLevel] = ()) -> NestArch:
    """Shared levels and DRAM from ``spec`` (per-access energies as ``hardware`` prices them),
    below them ``per_pe`` (innermost first). The spec's own per-PE levels are ignored: give
    them here, with their per-operand partitions."""
    hw = hardware(spec)
    levels = list(per_pe)
    for lv in hw.levels:
        bits = lv.access_bytes * 8.0
        # hardware's holds are (act, weight, out); the nest's are (weights, inputs, outputs)
        holds = (lv.holds[1], lv.holds[0], lv.holds[2])
        levels.append(
            NestLevel(
                name=lv.name,
                holds=holds,
                size_bytes=lv.size_bytes,
                read_pj_per_bit=(lv.read_pj / bits,) * 3,
                write_pj_per_bit=(lv.write_pj / bits,) * 3,
                bandwidth_bytes_per_cycle=lv.bandwidth_bytes_per_cycle,
                double_buffered=lv.double_buffered,
            )
        )
    levels.append(
        NestLevel(
            name="dram",
            holds=(True, True, True),
            size_bytes=math.inf,
            read_pj_per_bit=(hw.dram_pj_per_bit,) * 3,
            write_pj_per_bit=(hw.dram_pj_per_bit,) * 3,
            bandwidth_bytes_per_cycle=hw.dram_bytes_per_cycle,
        )
    )
    return NestArch(
        name=spec.name,
        levels=tuple(levels),
        rows=hw.rows,
        cols=hw.cols,
        fanout_level=len(per_pe),
        word_bits=(float(hw.w_bits), float(hw.a_bits), float(hw.p_bits)),
        output_bits=float(hw.o_bits),
        mac_pj=hw.mac_pj,
        clock_hz=hw.clock_hz,
    )
