"""The clock network in the accelerator spec (``clock_network``; re-exported by ``accelerator.spec``).

Off by default: a design without the section is costed as before. On, the cost models charge the
energy of clocking the PE array's flip-flops every cycle (``simulator.cost.clock``): each PE's
pipeline registers (operand lanes, accumulator, fire flags, as ``rtl/pe_tile`` builds them) and the
per-PE storage the spec says is built of flip-flops (``register_storage``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from accelerator.spec_base import MAX_FLOP_CLOCK_FJ, MAX_LEVELS, LocatedError, YamlTuple
from accelerator.spec_base import Strict as _Strict
from accelerator.spec_memory import MemorySpec


class ClockNetworkSpec(_Strict):
    """Whether the clock network's energy is charged, and what it clocks."""

    enabled: bool = Field(
        False,
        description="charge the clock network every cycle of every op (energy component clock, "
        "simulator.cost.clock): flip-flops (and word clock gates, storage_gating) x energy per cycle; the clock "
        "runs on stalls too; every PE is clocked unless idle_pe_gating",
    )
    idle_pe_gating: bool = Field(
        False,
        description="gate the clock of the PEs an op's mapping does not cover spatially (Eyeriss: 'the PEs that "
        "are not covered by any sets are clock gated', Chen et al., JSSC 2017, Sec. IV-A): each op clocks the "
        "PE part (pipeline, word gates, written words) of its covered PEs only (nest: the product of the "
        "mapping's spatial factors; one_level: the rows x columns its GEMM reaches), and every PE's own clock "
        "gate (NanGate45 CLKGATETST_X1) every cycle",
    )
    register_storage: Annotated[tuple[str, ...], YamlTuple] = Field(
        (),
        max_length=2 * MAX_LEVELS,
        description="per-PE storage built of flip-flops rather than an SRAM macro, each bit a clocked flop: a "
        "per_pe level's name, or level.operand for one of its partitions (e.g. spad.act); the rest of the "
        "per-PE storage is taken to be SRAM (its clocking is in its access energy)",
    )
    storage_gating: Literal["none", "word"] = Field(
        "none",
        description="clock gating of register_storage: none clocks every bit every cycle; word gives each word "
        "(the level's width_bits) an integrated clock gate (NanGate45 CLKGATETST_X1, clocked every cycle) and "
        "clocks the flops of at most one written word per storage per cycle (one write port: an upper bound "
        "on the writes), as synthesis gates a register bank with a write enable",
    )
    flop_energy_fj: float | None = Field(
        None,
        ge=0,
        le=MAX_FLOP_CLOCK_FJ,
        allow_inf_nan=False,
        description="clock energy per flip-flop per cycle in fJ at this design's node and supply (used as "
        "given, all of it); default: the cited model (accelerator/tech/clock_45nm.yaml: the NanGate45 "
        "DFF_X1 clock pin plus 1.5 sink pitches of clock wire over the die, C x Vdd^2, the pin's Liberty "
        "internal energy, and its share of a BUF_X4 leaf buffer per TritonCTS sink cluster; node-scaled)",
    )

    @model_validator(mode="after")
    def _unique(self) -> ClockNetworkSpec:
        if self.idle_pe_gating and not self.enabled:
            raise LocatedError(
                ("idle_pe_gating",),
                "true gates a clock network that is off; allowed: idle_pe_gating false, or enabled true",
            )
        if self.storage_gating != "none" and not self.register_storage:
            raise LocatedError(
                ("storage_gating",),
                f"{self.storage_gating!r} gates register_storage, which names nothing; allowed: none, or name "
                "the register-built storage in register_storage",
            )
        if len(set(self.register_storage)) != len(self.register_storage):
            raise LocatedError(
                ("register_storage",), f"names repeat: {list(self.register_storage)}; allowed: each storage once"
            )
        return self


def register_storage_problem(clock: ClockNetworkSpec, memory: MemorySpec) -> tuple[tuple[int], str] | None:
    """Why ``clock.register_storage`` does not name per-PE storage of ``memory`` (the index of the bad
    entry and the message), or ``None`` when every entry names a per-PE level or one of its
    partitions, and no level is named both whole and by a partition."""
    per_pe = {lv.name: lv for lv in memory.levels if lv.per_pe}
    whole = {name for name in clock.register_storage if "." not in name}
    for i, name in enumerate(clock.register_storage):
        level, _, part = name.partition(".")
        lv = per_pe.get(level)
        if lv is None:
            allowed = ", ".join(sorted(per_pe)) or "none (no level has per_pe: true)"
            return (i,), f"{name!r} names no per-PE level; allowed: {allowed} (or level.operand of a partition)"
        if not part:
            continue
        parts = sorted(lv.partitions or {})
        if part not in parts:
            allowed = ", ".join(f"{level}.{p}" for p in parts) or f"{level} (it has no partitions)"
            return (i,), f"{name!r}: level {level!r} has no partition {part!r}; allowed: {allowed}"
        if level in whole:
            return (i,), f"{name!r} is part of {level!r}, which register_storage names whole already"
    return None


def register_bits_per_pe(clock: ClockNetworkSpec, memory: MemorySpec) -> int:
    """Bits of per-PE storage ``clock.register_storage`` names (bytes x 8 of each level or partition)."""
    per_pe = {lv.name: lv for lv in memory.levels if lv.per_pe}
    bits = 0
    for name in clock.register_storage:
        level, _, part = name.partition(".")
        lv = per_pe[level]
        parts = lv.partitions or {}
        size = lv.size_bytes if not part else next(p.size_bytes for k, p in parts.items() if k == part)
        bits += 8 * size
    return bits


def register_words_per_pe(clock: ClockNetworkSpec, memory: MemorySpec) -> list[tuple[int, int]]:
    """``(words, word_bits)`` of each per-PE storage ``clock.register_storage`` names, in its order: a word is
    the level's ``width_bits`` (a partial last word counts as a word)."""
    per_pe = {lv.name: lv for lv in memory.levels if lv.per_pe}
    out = []
    for name in clock.register_storage:
        level, _, part = name.partition(".")
        lv = per_pe[level]
        parts = lv.partitions or {}
        size = lv.size_bytes if not part else next(p.size_bytes for k, p in parts.items() if k == part)
        out.append((-(-8 * size // lv.width_bits), lv.width_bits))
    return out
