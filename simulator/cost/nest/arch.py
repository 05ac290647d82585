"""The nest's view of a design: storage levels innermost first, a spatial array, word widths.

Levels run from the per-PE storage (register files, scratchpads) through any number of shared
buffers to DRAM, which is always the last level and holds every operand. A level holds some
operands (the others bypass it), with a partition of its own for some or all of them (Eyeriss's
filter / ifmap / psum scratchpads; its GLB's 8 kB of filters) and one shared capacity, the pool,
for the rest, per-operand read and write energies in pJ per bit, a
bandwidth in bytes per cycle per instance, a double-buffered flag, per operand a prefetch flag
(a shared level that loads the operand's next tile while it uses the current one) and the bytes it
stores and moves per plain byte (1 unless coded: Eyeriss's run-length coded fmaps in DRAM,
:mod:`.compression`).

Below the innermost level the datapath has a one-word register per operand (no energy, no
capacity to choose): a MAC whose innermost loops do not touch an operand keeps it there.

The array fans out under level ``fanout_level`` (the first shared level): the levels below it are
per PE, one instance per PE of ``rows × cols`` (with none, the array's MACs sit right under it).

Packed precision (``lanes`` > 1, the spec's ``macs_per_pe_per_cycle`` at the run precision): a PE
does ``lanes`` MACs per cycle on consecutive indices of the reduction dimension ``C``, their
operands arriving together in one storage word (the RTL tile's INT4 mode: two signed nibbles per
8-bit lane, reduction indices ``k`` and ``k + 1``, both products added into the one accumulator;
``rtl/pe_tile/hdl/pe_tile_pe.v``). The nest then counts in packed words: its problems are
:func:`packed` (``C`` in words of ``lanes`` values), the weights' and inputs' ``word_bits`` are
the packed word's, and every loop of ``C`` (spatial or temporal, at any level) steps one word, so
a cycle of the temporal loops is one beat, a per-PE access of a weight or an input is one packed
word and a partial sum is updated once per beat. ``R`` and ``S`` are not packed: two filter taps
would need two input words whose pairing shifts with the output position (the sliding window),
which one storage word cannot serve.

:func:`from_spec` builds the levels from an :class:`accelerator.spec.ArchSpec`: the per-PE levels
of its YAML (a level's ``partitions`` give per-operand capacities and energies, priced by
:func:`per_pe_level` with the project's SRAM model where the spec gives none), the shared levels
and DRAM through :func:`simulator.cost.hardware.hardware` (the same per-access energies as the
one-level model, so a level's ``technology`` / ``stacking`` and the DRAM's ``technology`` reach the
nest through :func:`simulator.cost.hardware.level_energy`: docs/memory-tech.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec, MemoryLevel
from accelerator.tech.regfile import register_file_access_pj
from simulator.cost.capacity import pool_bytes
from simulator.cost.hardware import hardware, level_energy
from simulator.cost.nest.problem import OPERANDS, C, Problem
from simulator.cost.nest.systolic import Pipeline, pipeline

Triple = tuple[float, float, float]  # per operand: weights, inputs, outputs


@dataclass(frozen=True)
class NestLevel:
    """One storage level (units in the names; triples are per operand: weights, inputs, outputs)."""

    name: str
    holds: tuple[bool, bool, bool]
    size_bytes: float  # the pool of one instance: what the operands without a partition share (inf: DRAM)
    read_pj_per_bit: Triple
    write_pj_per_bit: Triple
    bandwidth_bytes_per_cycle: float  # per instance, reads and writes together
    double_buffered: bool = False
    #: Per operand, a partition of its own (math.inf: the operand shares the pool ``size_bytes``);
    #: None: every operand shares the pool. A partitioned operand's tiles fill its partition and
    #: take nothing from the pool (per-PE scratchpads; a shared level's ``partitions`` in the spec).
    operand_bytes: Triple | None = None
    #: Bytes the level stores and moves per plain byte, per operand (DRAM's run-length coded
    #: fmaps, :mod:`.compression`; for outputs, of the final outputs: spilled partial sums stay
    #: plain); the level below it sends and receives plain words. Only DRAM (the last level) codes;
    #: a factor 0 is an operand the op keeps on chip (:mod:`simulator.cost.nest_homes`).
    compression: Triple = (1.0, 1.0, 1.0)
    #: Per operand: a shared level below DRAM that holds two tiles of it and loads the next from
    #: its parent while the current one is in use (the spec's ``prefetch``; Eyeriss's GLB preloads
    #: the next pass's filters, JSSC 2017 Sec. V-A). Its fills and drains leave the level's exposed
    #: handover (they overlap compute, still in the transfer times); never with ``double_buffered``.
    #: A tile the level below takes whole counts once (:func:`.tiles.consumed_whole`: the current
    #: one then lives below), which a mapping decides, not the level: see ``analysis._copies``.
    prefetched: tuple[bool, bool, bool] = (False, False, False)

    def tile_copies(self) -> Triple:
        """Tiles of each operand one instance holds: 2 when double-buffered or prefetched, else 1."""
        return tuple(2.0 if self.double_buffered or p else 1.0 for p in self.prefetched)  # type: ignore[return-value]

    def capacity_ok(self, tile_bytes: Triple, copies: Triple | None = None) -> bool:
        """Whether tiles of ``tile_bytes`` (per operand, already 0 for bypassed ones) fit, each
        ``copies`` times (default :meth:`tile_copies`): a partitioned operand's in its partition,
        the others' together in the pool ``size_bytes``."""
        need = [t * m for t, m in zip(tile_bytes, copies or self.tile_copies(), strict=True)]
        parts = self.operand_bytes if self.operand_bytes is not None else (math.inf,) * 3
        if any(t > c for t, c in zip(need, parts, strict=True) if math.isfinite(c)):
            return False
        return sum(t for t, c in zip(need, parts, strict=True) if not math.isfinite(c)) <= self.size_bytes


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
    #: Fixed cycles per change of the stationary tile in the array (:mod:`.systolic`); None: none.
    pipeline: Pipeline | None = None
    #: MACs per PE per cycle: lanes that unroll the reduction ``C`` in one packed word (module
    #: docstring); with more than one, ``word_bits`` of weights and inputs are the packed word's
    #: and the problems are :func:`packed`.
    lanes: int = 1
    #: Energy that runs with time, pJ per cycle (leakage and the clock network,
    #: ``Hardware.static_pj_per_cycle``; the adapter charges both over each op's cycles): the mapper
    #: adds it to a candidate's energy, so the energy it minimises is the energy reported.
    static_pj_per_cycle: float = 0.0
    #: Of it, the clock energy per cycle of the PEs a mapping leaves uncovered, which idle-PE gating
    #: saves (``clock_network.idle_pe_gating``: ``Hardware.clock_pj_per_cycle`` minus the PEs' own
    #: gates; 0 without gating): the mapper charges ``static - idle x (1 - covered PEs / PEs)``
    #: per cycle, as the adapter charges the clock by the op's PE coverage.
    idle_pe_pj_per_cycle: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.lanes, int) or self.lanes < 1:
            raise SimulationError(f"{self.name}: lanes (MACs per PE per cycle) must be an int >= 1, got {self.lanes!r}")
        if not self.levels or not all(self.levels[-1].holds):
            raise SimulationError(f"{self.name}: the last level must be DRAM and hold every operand")
        if not 0 <= self.fanout_level < len(self.levels):
            raise SimulationError(f"{self.name}: fanout_level {self.fanout_level} outside 0..{len(self.levels) - 1}")
        for i, lv in enumerate(self.levels):
            if not any(lv.prefetched):
                continue
            where = "per-PE" if i < self.fanout_level else "DRAM" if i == len(self.levels) - 1 else ""
            bad = [o for o, (p, h) in enumerate(zip(lv.prefetched, lv.holds, strict=True)) if p and not h]
            if where or lv.double_buffered or bad:
                why = (
                    f"it is {where} (only shared levels below DRAM prefetch)"
                    if where
                    else "it is double-buffered (which overlaps every operand already)"
                    if lv.double_buffered
                    else f"it does not hold operand(s) {bad} (0 weights, 1 inputs, 2 outputs)"
                )
                raise SimulationError(f"{self.name}: level {lv.name!r} prefetches {lv.prefetched}, but {why}")
        coded = [lv.name for lv in self.levels[:-1] if lv.compression != (1.0, 1.0, 1.0)]
        if coded or not all(c >= 0 for c in self.levels[-1].compression):
            raise SimulationError(
                f"{self.name}: only DRAM (the last level) may code its operands, at a ratio >= 0 (0: the "
                f"caller keeps the operand on chip, simulator.cost.nest_homes); "
                f"coded: {', '.join(coded) or self.levels[-1].name}"
            )

    def key(self) -> tuple[object, ...]:
        """Identity for caches (dataclasses of floats and tuples compare by value)."""
        return (
            self.levels,
            self.rows,
            self.cols,
            self.fanout_level,
            self.word_bits,
            self.output_bits,
            self.mac_pj,
            self.pipeline,
            self.lanes,
            self.static_pj_per_cycle,
            self.idle_pe_pj_per_cycle,
        )


def packed(problem: Problem, lanes: int) -> Problem:
    """``problem`` as a design with ``lanes`` MACs per PE per cycle runs it: ``C`` in packed words
    of ``lanes`` consecutive values, ``ceil(C / lanes)`` of them (the last one partial when ``lanes``
    does not divide ``C``: its idle lanes hold zeros, as the RTL tile pads an odd reduction); the
    other dimensions as they are. ``problem`` itself when ``lanes`` is 1."""
    if lanes == 1:
        return problem
    if not isinstance(lanes, int) or lanes < 1:
        raise SimulationError(f"problem {problem.name!r}: lanes must be an int >= 1, got {lanes!r}")
    b = problem.bounds
    words = -(-b[C] // lanes)
    return replace(problem, bounds=(b[0], b[1], words, b[3], b[4], b[5], b[6]))


def per_pe_level(
    spec: ArchSpec,
    name: str,
    *,
    operand_bytes: Triple,
    width_bits: int,
    bandwidth_bytes_per_cycle: float,
    read_energy_pj: Sequence[float | None] | None = None,
    write_energy_pj: Sequence[float | None] | None = None,
) -> NestLevel:
    """A per-PE level partitioned per operand (weights, inputs, outputs; 0 bytes = bypass). Each
    part costs its given pJ per ``width_bits`` access; else, where the spec's clock network says
    the part is built of word-gated registers (``clock_network.register_storage`` names it and
    ``storage_gating`` is ``word``), the register-file model of cited NanGate45 cells
    (:func:`accelerator.tech.regfile.register_file_access_pj`: read mux tree, write bus and decode);
    else the project's SRAM model for a one-bank macro of its size at ``spec``'s node
    (:func:`simulator.cost.hardware.level_energy`: Horowitz ISSCC 2014 fit, node-scaled, plus the
    wire); a write without its own energy costs the read energy × the SRAM table's write/read
    ratio, as for any level."""
    reads: list[float] = []
    writes: list[float] = []
    clock = spec.clock_network
    for o, size in enumerate(operand_bytes):
        rd_given = read_energy_pj[o] if read_energy_pj is not None else None
        wr_given = write_energy_pj[o] if write_energy_pj is not None else None
        rd = wr = 0.0
        registers = clock.storage_gating == "word" and (
            name in clock.register_storage or f"{name}.{SPEC_OPERANDS[o]}" in clock.register_storage
        )
        if size > 0 and registers:  # a given energy replaces the model's, each on its own
            words = -(-8 * int(size) // width_bits)  # as accelerator.spec_clock.register_words_per_pe
            rf = register_file_access_pj(words, width_bits, spec.technology_nm, spec.vdd_v)
            rd = rf.read_pj if rd_given is None else rd_given
            wr = rf.write_pj if wr_given is None else wr_given
        elif size > 0:
            lv = MemoryLevel(
                name=f"{name}.{OPERANDS[o]}",
                size_bytes=max(int(size), 1),
                per_pe=True,
                width_bits=width_bits,
                bandwidth_bytes_per_cycle=bandwidth_bytes_per_cycle,
                read_energy_pj=rd_given,
                write_energy_pj=wr_given,
            )
            rd, wr = level_energy(lv, spec.technology_nm, spec.vdd_v)
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


#: The spec's operand names in the nest's operand order (weights, inputs, outputs).
SPEC_OPERANDS = ("weight", "act", "out")


def spec_per_pe_levels(spec: ArchSpec) -> tuple[NestLevel, ...]:
    """The spec's per-PE levels, innermost first: a level with ``partitions`` has a capacity and
    per-access energies per operand (:func:`per_pe_level`), one without shares its capacity among
    the operands of ``holds`` at the level's energy (word-gated register storage: the register-file
    model, as in :func:`per_pe_level`; else :func:`simulator.cost.hardware.level_energy`, one bank,
    as the one-level model prices its register file)."""
    out = []
    for lv in spec.memory.levels:
        if not lv.per_pe:
            continue
        if lv.partitions is not None:
            parts = [lv.partitions.get(x) for x in SPEC_OPERANDS]  # type: ignore[call-overload]
            out.append(
                per_pe_level(
                    spec,
                    lv.name,
                    operand_bytes=tuple(float(p.size_bytes) if p else 0.0 for p in parts),  # type: ignore[arg-type]
                    width_bits=lv.width_bits,
                    bandwidth_bytes_per_cycle=lv.bandwidth_bytes_per_cycle,
                    read_energy_pj=[p.read_energy_pj if p else None for p in parts],
                    write_energy_pj=[p.write_energy_pj if p else None for p in parts],
                )
            )
            continue
        clock = spec.clock_network
        if clock.storage_gating == "word" and lv.name in clock.register_storage:
            rf = register_file_access_pj(
                -(-8 * lv.size_bytes // lv.width_bits), lv.width_bits, spec.technology_nm, spec.vdd_v
            )
            read = rf.read_pj if lv.read_energy_pj is None else lv.read_energy_pj
            write = rf.write_pj if lv.write_energy_pj is None else lv.write_energy_pj
        else:
            read, write = level_energy(lv.model_copy(update={"banks": 1}), spec.technology_nm, spec.vdd_v)
        out.append(
            NestLevel(
                name=lv.name,
                holds=tuple(x in lv.holds for x in SPEC_OPERANDS),  # type: ignore[arg-type]
                size_bytes=float(lv.size_bytes),
                read_pj_per_bit=(read / lv.width_bits,) * 3,
                write_pj_per_bit=(write / lv.width_bits,) * 3,
                bandwidth_bytes_per_cycle=lv.bandwidth_bytes_per_cycle,
                double_buffered=lv.double_buffered,
            )
        )
    return tuple(out)


def from_spec(spec: ArchSpec, per_pe: Sequence[NestLevel] | None = None) -> NestArch:
    """The nest's view of ``spec``: its per-PE levels (:func:`spec_per_pe_levels`; ``per_pe``
    replaces them, innermost first), its shared levels (a level's ``partitions`` as
    ``operand_bytes``, the rest of it as the pool ``size_bytes``) and DRAM at the per-access energies
    :func:`simulator.cost.hardware.hardware` gives them, its array and operand widths, and the
    array's pipeline for its dataflow (:func:`.systolic.pipeline`). A packed run precision
    (``hw.mpc`` MACs per PE per cycle) gives ``lanes = hw.mpc`` and weights and inputs in packed
    words of ``mpc`` values (module docstring)."""
    hw = hardware(spec)
    levels = list(spec_per_pe_levels(spec) if per_pe is None else per_pe)
    fanout = len(levels)
    for lv in hw.levels:
        bits = lv.access_bytes * 8.0
        # hardware's holds are (act, weight, out); the nest's are (weights, inputs, outputs)
        holds = (lv.holds[1], lv.holds[0], lv.holds[2])
        parts = (lv.partition_bytes[1], lv.partition_bytes[0], lv.partition_bytes[2])
        levels.append(
            NestLevel(
                name=lv.name,
                holds=holds,
                size_bytes=pool_bytes(lv),
                operand_bytes=None if not any(map(math.isfinite, parts)) else parts,
                read_pj_per_bit=(lv.read_pj / bits,) * 3,
                write_pj_per_bit=(lv.write_pj / bits,) * 3,
                bandwidth_bytes_per_cycle=lv.bandwidth_bytes_per_cycle,
                double_buffered=lv.double_buffered,
                prefetched=(lv.prefetched[1], lv.prefetched[0], lv.prefetched[2]),
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
        fanout_level=fanout,
        word_bits=(float(hw.w_bits * hw.mpc), float(hw.a_bits * hw.mpc), float(hw.p_bits)),
        output_bits=float(hw.o_bits),
        mac_pj=hw.mac_pj,
        clock_hz=hw.clock_hz,
        pipeline=pipeline(spec.compute.dataflow, hw.rows, hw.cols),
        static_pj_per_cycle=hw.static_pj_per_cycle,
        idle_pe_pj_per_cycle=(
            0.0
            if hw.clock_pe_gates_pj_per_cycle is None
            else (hw.clock_pj_per_cycle or 0.0) - hw.clock_pe_gates_pj_per_cycle
        ),
        lanes=hw.mpc,
    )
