"""The memory part of the accelerator spec: levels (with per-operand partitions), residency; DRAM in
``accelerator.spec_dram``.

``accelerator.spec`` re-exports these records; the schema's conventions are described there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from accelerator.spec_base import (
    MAX_ACCESS_ENERGY_PJ,
    MAX_BANKS,
    MAX_BYTES_PER_CYCLE,
    MAX_LEVEL_BYTES,
    MAX_LEVELS,
    MAX_POWER_MW,
    MAX_WIDTH_BITS,
    LevelTechnology,
    LocatedError,
    Operand,
    Stacking,
    YamlTuple,
)
from accelerator.spec_base import Strict as _Strict
from accelerator.spec_dram import DramSpec
from accelerator.tech.memory import memory_technology


class OperandPartition(_Strict):
    """One operand's share of a level: of a per-PE level, a scratchpad of its own (Eyeriss's
    filter, ifmap and psum scratchpads); of a shared level, a capacity of its own beside the pool
    the other operands share (Eyeriss's 8 kB of filters in its 108 kB GLB)."""

    size_bytes: int = Field(
        ..., ge=1, le=MAX_LEVEL_BYTES, description="capacity of this operand's part (per PE on a per-PE level)"
    )
    read_energy_pj: float | None = Field(
        None,
        ge=0,
        le=MAX_ACCESS_ENERGY_PJ,
        allow_inf_nan=False,
        description="per-PE levels only: energy per read access of the level's width_bits in pJ at this "
        "design's node (used as given); default: the project's SRAM model for a one-bank macro of size_bytes "
        "(accelerator.tech: Horowitz ISSCC 2014 fit, Stillmaker & Baas 2017 node scaling, plus the DARPA 2008 "
        "wire energy; simulator.cost.hardware.level_energy)",
    )
    write_energy_pj: float | None = Field(
        None,
        ge=0,
        le=MAX_ACCESS_ENERGY_PJ,
        allow_inf_nan=False,
        description="per-PE levels only: energy per write access in pJ; default: the read energy x the SRAM "
        "table's write/read ratio (accelerator/tech/energy_45nm.yaml)",
    )


class MemoryLevel(_Strict):
    """One on-chip buffer level (innermost first)."""

    name: str = Field(..., min_length=1, description="level name, e.g. 'rf', 'glb'")
    size_bytes: int = Field(..., ge=1, le=MAX_LEVEL_BYTES, description="capacity in bytes (per PE if per_pe)")
    per_pe: bool = Field(False, description="one instance per PE (register files)")
    banks: int = Field(1, ge=1, le=MAX_BANKS, description="independent banks")
    width_bits: int = Field(64, ge=8, le=MAX_WIDTH_BITS, description="access width in bits")
    bandwidth_bytes_per_cycle: float = Field(
        ..., gt=0, le=MAX_BYTES_PER_CYCLE, allow_inf_nan=False, description="peak bytes per cycle (all banks)"
    )
    double_buffered: bool = Field(False, description="half the capacity fills while the other half is used")
    read_energy_pj: float | None = Field(
        None,
        ge=0,
        le=MAX_ACCESS_ENERGY_PJ,
        allow_inf_nan=False,
        description="energy per read access of width_bits in pJ at this design's node (used as given); "
        "default from the accelerator/tech SRAM model. On a per_pe level (register file) the cost "
        "model charges, per executed MAC, (activation + weight + accumulator bits) / width_bits reads "
        "and accumulator bits / width_bits writes",
    )
    write_energy_pj: float | None = Field(
        None,
        ge=0,
        le=MAX_ACCESS_ENERGY_PJ,
        allow_inf_nan=False,
        description="energy per write access in pJ; default = read",
    )
    leakage_mw: float | None = Field(
        None,
        ge=0,
        le=MAX_POWER_MW,
        allow_inf_nan=False,
        description="static power incl. refresh, mW; default: the SRAM leakage model x the technology's "
        "standby_over_sram (accelerator/tech/memory_tech.yaml)",
    )
    technology: LevelTechnology | None = Field(
        None,
        description="what the level is made of, a row of accelerator/tech/memory_tech.yaml (docs/memory-tech.md): "
        "its read/write pJ per bit (else the SRAM model), density (area) and standby/refresh power come "
        "from the table, read_energy_pj / write_energy_pj / leakage_mw still override; default: the SRAM "
        "model (today's behaviour). An NVM (rram, stt_mram, sot_mram) holds weights only and must keep "
        "them across steps within its endurance (memory.nvm_use); a DRAM-class one (edram, dram_stacked) "
        "needs refresh power (the table's or leakage_mw); an on-die technology needs technology_nm at or "
        "above the smallest node the table's source offers it at",
    )
    stacking: Stacking = Field(
        "none",
        description="the level sits on a die of its own bonded on the logic die: every bit read or written "
        "also pays the interface's pJ/bit (memory_tech.yaml interfaces: hybrid_bond, tsv) and the on-die "
        "node limit does not apply; none: on the logic die",
    )
    holds: Annotated[tuple[Operand, ...], YamlTuple] = Field(
        ("act", "weight", "out"),
        description="which operands this level stores (the others bypass it: in the nest model they go "
        "straight between the levels around it)",
    )
    prefetch: Annotated[tuple[Operand, ...], YamlTuple] = Field(
        (),
        description="shared levels only: operands of holds whose next tile loads from the parent while the "
        "current one is in use (Eyeriss's GLB preloads the next pass's filters, JSSC 2017 Sec. V-A): the "
        "level holds two tiles of each (both count against its capacity: the operand's partition when it "
        "has one; on the loop-nest model one tile when the level below takes it whole, the current one "
        "then living below), and their fills overlap "
        "compute instead of adding to the single-buffered level's serial handover; the other operands "
        "still fill and drain in series. Both memory models (docs/memory-model.md); the event fidelity "
        "loads them in series, with a note. Not with double_buffered (which overlaps every operand). "
        "Default: none",
    )
    partitions: dict[Operand, OperandPartition] | None = Field(
        None,
        description="a capacity of its own per named operand. On a per_pe level: a separate capacity and "
        "per-access energy per operand (Eyeriss: weight 448 B, act 24 B, out 48 B); the sizes add up to "
        "size_bytes and name exactly the operands of holds. On a shared level: capacity only (accesses "
        "cost the level's energy, per bank), naming some or all of holds; each named operand's tiles "
        "(and its resident tensors) live in its partition, the operands of holds not named share the "
        "rest, size_bytes minus the partitions, which must be > 0 (Eyeriss's GLB: weight 8 kB, the "
        "fmaps the other 100 kB, JSSC 2017 Sec. V-A); naming every operand of holds, the sizes add up "
        "to size_bytes. Per-PE partitions are used by mapping.memory_model nest (the one_level model "
        "charges the level per MAC at its own energy); shared ones by both memory models. Default: "
        "none (one capacity shared by every operand of holds)",
    )

    @model_validator(mode="after")
    def _technology_fits(self) -> MemoryLevel:
        if self.technology is None:
            return self
        row = memory_technology(self.technology)
        if self.per_pe and row.cls != "sram":
            raise LocatedError(("technology",), f"{self.technology} on a per-PE level: register files are sram")
        if row.cls == "nvm" and tuple(self.holds) != ("weight",):
            raise LocatedError(
                ("holds",),
                f"an NVM level ({self.technology}) may hold weights only (write energy and endurance rule out "
                f"activations and partial sums), got {list(self.holds)}; allowed: [weight]",
            )
        if row.cls == "dram" and row.standby_over_sram is None and self.leakage_mw is None:
            raise LocatedError(
                ("technology",),
                f"{self.technology} is DRAM-class and the table has no refresh power for it: give this level's "
                "leakage_mw (refresh + standby, mW)",
            )
        if row.stacked and self.stacking != "none":
            raise LocatedError(
                ("stacking",), f"{self.technology} is a stacked die whose energy includes its interface; allowed: none"
            )
        return self

    @field_validator("prefetch")
    @classmethod
    def _prefetch_consistent(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        d = info.data
        if not v or not {"per_pe", "holds", "double_buffered"} <= set(d):
            return v
        if d["per_pe"]:
            raise ValueError(
                "prefetch is for shared levels (per-PE levels already fill in the shadow of compute); "
                "remove it or set per_pe: false"
            )
        if d["double_buffered"]:
            raise ValueError(
                f"prefetch {list(v)} with double_buffered: true: a double-buffered level already overlaps "
                "every operand's fills; keep one of the two"
            )
        repeated = sorted({x for x in v if v.count(x) > 1})
        if repeated:
            raise ValueError(f"prefetch names {repeated} more than once")
        outside = [x for x in v if x not in d["holds"]]
        if outside:
            raise ValueError(f"prefetch names {outside}, which the level does not hold; allowed: {list(d['holds'])}")
        return v

    @field_validator("partitions")
    @classmethod
    def _partitions_consistent(
        cls, v: dict[str, OperandPartition] | None, info: ValidationInfo
    ) -> dict[str, OperandPartition] | None:
        d = info.data
        if v is None or not {"per_pe", "holds", "size_bytes"} <= set(d):
            return v
        total = sum(p.size_bytes for p in v.values())
        if d["per_pe"]:
            if set(v) != set(d["holds"]):
                raise ValueError(
                    f"partitions name {sorted(v)}, holds {sorted(d['holds'])}; on a per-PE level they must "
                    "name the same operands"
                )
            if total != d["size_bytes"]:
                raise ValueError(f"partitions add up to {total} B, size_bytes is {d['size_bytes']}; they must be equal")
            return v
        outside = sorted(x for x in v if x not in d["holds"])
        if outside:
            raise ValueError(f"partitions name {outside}, which the level does not hold; allowed: {list(d['holds'])}")
        priced = sorted(k for k, p in v.items() if p.read_energy_pj is not None or p.write_energy_pj is not None)
        if priced:
            raise ValueError(
                f"partitions {priced} give read_energy_pj / write_energy_pj on a shared level: a shared "
                "level's accesses cost the level's energy (priced per bank); give read_energy_pj on the level"
            )
        shared = [x for x in d["holds"] if x not in v]
        if not shared and total != d["size_bytes"]:
            raise ValueError(
                f"partitions name every operand of holds and add up to {total} B, size_bytes is "
                f"{d['size_bytes']}; they must be equal"
            )
        if shared and total >= d["size_bytes"]:
            raise ValueError(
                f"partitions take {total} B of size_bytes {d['size_bytes']}, leaving nothing for {shared} "
                f"(not partitioned, they share the rest); allowed: partitions adding up to at most "
                f"{d['size_bytes'] - 1} B"
            )
        return v


#: Days per year in the endurance arithmetic.
_DAYS_PER_YEAR = 365.0


class NvmUse(_Strict):
    """The use an NVM level's endurance is checked against (docs/memory-tech.md, "Endurance").

    Defaults are stated assumptions, not measurements: a 5-year service life and 1,000 images a
    day (one accelerator serving a steady stream), weights rewritten once per image (what the cost
    model charges with weight_residency across_steps: one fill per image)."""

    weight_writes: Literal["per_image", "per_model"] = Field(
        "per_image",
        description="per_image: every cell is rewritten once per image (the fill the cost model charges); "
        "per_model: the weights are programmed once per model version, model_updates times in the "
        "service life (the energy result still charges one fill per image: an upper bound)",
    )
    images_per_day: float = Field(1000.0, ge=0, le=1e9, allow_inf_nan=False, description="images a day (assumption)")
    lifetime_years: float = Field(5.0, gt=0, le=100, allow_inf_nan=False, description="service life in years")
    model_updates: int = Field(
        100, ge=1, le=10**9, description="per_model: times the weights are reprogrammed in the service life"
    )

    def writes_per_cell(self) -> float:
        """Writes each cell of a resident-weight NVM level takes over the service life."""
        if self.weight_writes == "per_model":
            return float(self.model_updates)
        return self.images_per_day * _DAYS_PER_YEAR * self.lifetime_years


def nvm_problem(
    levels: tuple[MemoryLevel, ...], residency: str, residency_level: str | None, use: NvmUse
) -> tuple[tuple[str | int, ...], str] | None:
    """(location below ``memory``, message) of the first NVM level whose weights would be rewritten
    more often than resident weights are, or wear out within ``use``; None when all fit."""
    holders = [lv.name for lv in levels if not lv.per_pe and "weight" in lv.holds]
    home = residency_level if residency_level is not None else (holders[-1] if holders else None)
    for i, lv in enumerate(levels):
        if lv.technology is None:
            continue
        row = memory_technology(lv.technology)
        if row.cls != "nvm":
            continue
        where = ("levels", i, "technology")
        if residency != "across_steps" or lv.name != home:
            return where, (
                f"{lv.technology} level {lv.name!r} would take weight tiles on every denoising step: an NVM level "
                "must keep the weights across steps (memory.weight_residency: across_steps, "
                f"weight_residency_level: {lv.name})"
            )
        writes = use.writes_per_cell()
        if row.endurance_writes is not None and writes > row.endurance_writes:
            if use.weight_writes == "per_image":
                how = f"{use.images_per_day:g} images/day x 365 x {use.lifetime_years:g} years, one rewrite per image"
            else:
                how = f"{use.model_updates} model updates"
            return where, (
                f"{lv.technology} endures {row.endurance_writes:.3g} writes per cell "
                f"(accelerator/tech/memory_tech.yaml) but memory.nvm_use asks {writes:.3g} ({how}); "
                "lower the use, set nvm_use.weight_writes: per_model, or pick a technology with more endurance"
            )
    return None


class MemorySpec(_Strict):
    levels: Annotated[tuple[MemoryLevel, ...], YamlTuple] = Field(
        ..., min_length=1, max_length=MAX_LEVELS, description="on-chip levels, innermost first"
    )
    dram: DramSpec

    dma_engines: int = Field(
        2,
        ge=1,
        le=64,
        description="independent DMA engines moving tiles between DRAM and the buffers (event "
        "mode: with one, a write-back delays the next load)",
    )

    weight_residency: Literal["per_op", "across_steps"] = Field(
        "per_op",
        description="per_op: every denoising step reads its weights from DRAM; across_steps: "
        "when the model's parameters fit weight_residency_level beside the activation tiles, "
        "they stay there: read from DRAM and written into the level once per image, read from "
        "the level on every step (else per_op, with a note in the result)",
    )
    weight_residency_level: str | None = Field(
        None,
        description="on-chip level (a levels[].name, shared and holding weights) that keeps the "
        "resident weights; default: the outermost level holding weights (the GLB)",
    )

    nvm_use: NvmUse = Field(
        default_factory=NvmUse,
        description="the use an NVM level's endurance is checked against (images per day, service life, "
        "how often the weights are rewritten)",
    )

    @field_validator("weight_residency_level")
    @classmethod
    def _residency_level_known(cls, v: str | None, info: ValidationInfo) -> str | None:
        levels = info.data.get("levels")
        if v is None or levels is None:
            return v
        names = [lv.name for lv in levels]
        usable = ", ".join(lv.name for lv in levels if not lv.per_pe and "weight" in lv.holds)
        if v not in names:
            where = "DRAM is off chip" if v.lower() == "dram" else "no memory level of that name"
            raise ValueError(
                f"{where}; resident weights need a shared on-chip level holding "
                f"weights: {usable or 'none in this design'}"
            )
        lv = levels[names.index(v)]
        if lv.per_pe:
            raise ValueError(f"level {v!r} is per-PE (register files) and cannot hold the model")
        if "weight" not in lv.holds:
            raise ValueError(f"level {v!r} does not hold weights (its holds: {list(lv.holds)})")
        return v

    @model_validator(mode="after")
    def _residency_has_level(self) -> MemorySpec:
        if self.weight_residency == "across_steps" and not any(
            not lv.per_pe and "weight" in lv.holds for lv in self.levels
        ):
            raise ValueError("weight_residency across_steps needs a shared on-chip level that holds weights")
        return self

    @model_validator(mode="after")
    def _nvm_endurance(self) -> MemorySpec:
        problem = nvm_problem(self.levels, self.weight_residency, self.weight_residency_level, self.nvm_use)
        if problem is not None:
            raise LocatedError(*problem)
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> MemorySpec:
        names = [lv.name for lv in self.levels]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"memory level names must be unique, repeated: {sorted(dup)}")
        return self
