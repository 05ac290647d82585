"""The memory part of the accelerator spec: levels (with per-PE partitions), DRAM, residency.

``accelerator.spec`` re-exports these records; the schema's conventions are described there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from accelerator.spec_base import (
    MAX_BANKS,
    MAX_LEVEL_BYTES,
    MAX_LEVELS,
    MAX_WIDTH_BITS,
    DramKind,
    Operand,
    YamlTuple,
)
from accelerator.spec_base import Strict as _Strict


class OperandPartition(_Strict):
    """One operand's share of a per-PE level (Eyeriss's filter, ifmap and psum scratchpads)."""

    size_bytes: int = Field(..., ge=1, le=MAX_LEVEL_BYTES, description="capacity of this operand's part, per PE")
    read_energy_pj: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="energy per read access of the level's width_bits in pJ at this design's node (used as "
        "given); default: the project's SRAM model for a one-bank macro of size_bytes (accelerator.tech: "
        "Horowitz ISSCC 2014 fit, Stillmaker & Baas 2017 node scaling, plus the DARPA 2008 wire energy; "
        "simulator.cost.hardware.level_energy)",
    )
    write_energy_pj: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="energy per write access in pJ; default: the read energy x the SRAM table's write/read "
        "ratio (accelerator/tech/energy_45nm.yaml)",
    )


class MemoryLevel(_Strict):
    """One on-chip buffer level (innermost first)."""

    name: str = Field(..., min_length=1, description="level name, e.g. 'rf', 'glb'")
    size_bytes: int = Field(..., ge=1, le=MAX_LEVEL_BYTES, description="capacity in bytes (per PE if per_pe)")
    per_pe: bool = Field(False, description="one instance per PE (register files)")
    banks: int = Field(1, ge=1, le=MAX_BANKS, description="independent banks")
    width_bits: int = Field(64, ge=8, le=MAX_WIDTH_BITS, description="access width in bits")
    bandwidth_bytes_per_cycle: float = Field(
        ..., gt=0, allow_inf_nan=False, description="peak bytes per cycle (all banks)"
    )
    double_buffered: bool = Field(False, description="half the capacity fills while the other half is used")
    read_energy_pj: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="energy per read access of width_bits in pJ at this design's node (used as given); "
        "default from the accelerator/tech SRAM model. On a per_pe level (register file) the cost "
        "model charges, per executed MAC, (activation + weight + accumulator bits) / width_bits reads "
        "and accumulator bits / width_bits writes",
    )
    write_energy_pj: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="energy per write access in pJ; default = read"
    )
    leakage_mw: float | None = Field(None, ge=0, description="static power; default from the SRAM model")
    holds: Annotated[tuple[Operand, ...], YamlTuple] = Field(
        ("act", "weight", "out"),
        description="which operands this level stores (the others bypass it: in the nest model they go "
        "straight between the levels around it)",
    )
    partitions: dict[Operand, OperandPartition] | None = Field(
        None,
        description="per-PE levels only: a separate capacity and per-access energy per operand (Eyeriss: "
        "weight 448 B, act 24 B, out 48 B); the sizes add up to size_bytes and name exactly the operands of "
        "holds. Used by mapping.memory_model nest; the one_level model charges the level per MAC at its "
        "own energy",
    )

    @field_validator("partitions")
    @classmethod
    def _partitions_consistent(
        cls, v: dict[str, OperandPartition] | None, info: ValidationInfo
    ) -> dict[str, OperandPartition] | None:
        d = info.data
        if v is None or not {"per_pe", "holds", "size_bytes"} <= set(d):
            return v
        if not d["per_pe"]:
            raise ValueError("partitions are for per-PE levels (per_pe: true)")
        if set(v) != set(d["holds"]):
            raise ValueError(
                f"partitions name {sorted(v)}, holds {sorted(d['holds'])}; they must name the same operands"
            )
        total = sum(p.size_bytes for p in v.values())
        if total != d["size_bytes"]:
            raise ValueError(f"partitions add up to {total} B, size_bytes is {d['size_bytes']}; they must be equal")
        return v


class DramSpec(_Strict):
    """Off-chip memory."""

    kind: DramKind = Field(..., description="memory technology; picks the cited energy table row")
    bandwidth_gb_per_s: float = Field(..., gt=0, description="peak bandwidth in GB/s (1e9 bytes/s)")
    energy_pj_per_bit: float | None = Field(
        None, gt=0, description="access energy per bit incl. I/O; default from the cited table"
    )
    efficiency: float = Field(0.8, gt=0, le=1, description="sustained / peak bandwidth (row-buffer and refresh losses)")
    latency_ns: float = Field(100.0, ge=0, description="access latency, paid once per op")


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
    def _unique_names(self) -> MemorySpec:
        names = [lv.name for lv in self.levels]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"memory level names must be unique, repeated: {sorted(dup)}")
        return self
