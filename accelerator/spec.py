"""The accelerator specification: a strict, frozen schema loaded from YAML.

An :class:`ArchSpec` says what the hardware is; energy and area come from the cited tables in
``accelerator/tech`` unless a level overrides them. Every field documents its unit. Loading
errors name ``file:line dotted.field``, the bad value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from accelerator.errors import SpecError
from accelerator.numerics import NumericsSpec, numerics_fit_error
from accelerator.tech import KNOWN_NODES_NM
from accelerator.yamlpos import Positions, load_yaml, parse_yaml

Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
Dataflow = Literal["output_stationary", "weight_stationary", "input_stationary"]
DramKind = Literal["hbm2e", "hbm3", "hbm3e", "lpddr5", "ddr5", "ddr4"]

#: Bits per operand of each precision.
PRECISION_BITS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


#: Skip-block shapes (rows, reduction cols) a design may name: the zero-block shapes traces
#: record (``models.workload.ACT_BLOCK_SHAPES``; this package imports nothing of ours, a unit
#: test keeps the two equal).
BLOCK_SKIP_SHAPES = (
    (1, 8),
    (1, 16),
    (8, 8),
    (8, 1),
    (16, 1),
    (32, 1),
    (64, 1),
    (128, 1),
    (32, 2),
    (128, 2),
    (32, 16),
    (128, 16),
    (1, 32),
    (1, 128),
)


class SparsitySpec(_Strict):
    """Which kinds of zeros the array exploits, and how."""

    act_zero_gating: bool = Field(
        False, description="a zero activation does not toggle its multiplier (saves energy, not cycles)"
    )
    weight_zero_gating: bool = Field(False, description="a zero weight does not toggle its multiplier")
    block_skip: tuple[int, int] | None = Field(
        None,
        description="granularity (rows, reduction cols) of the skip masks: a unit the array "
        "streams in one cycle is skipped, saving cycles, when all the blocks covering it are zero; "
        "one of the trace's block sizes: "
        + ", ".join(f"({r}, {c})" for r, c in BLOCK_SKIP_SHAPES)
        + " (e.g. [128, 1]: one flag per output-stationary beat of a 128-row array)",
    )
    temporal_delta: bool = Field(
        False,
        description="compute on deltas between denoising steps, skipping all-zero delta vectors "
        "(Cambricon-D, ISCA 2024; Ditto, HPCA 2025)",
    )
    delta_precision: Literal["int8", "int4"] = Field("int8", description="precision of stored deltas")
    metadata_bits_per_block: int = Field(
        1, ge=0, description="bits of skip metadata (mask/index) fetched per skippable block"
    )

    compact_activations: bool = Field(
        False,
        description="activations are stored without their all-zero blocks (block_skip "
        "granularity) plus a mask of metadata_bits_per_block bits per block: DRAM and buffer "
        "bytes of activations scale by (1 - zero-block fraction) + mask",
    )

    @model_validator(mode="after")
    def _block_known(self) -> SparsitySpec:
        if self.compact_activations and self.block_skip is None:
            raise ValueError("compact_activations needs block_skip (the block size it drops)")
        if self.block_skip is not None and tuple(self.block_skip) not in BLOCK_SKIP_SHAPES:
            allowed = ", ".join(f"[{r}, {c}]" for r, c in BLOCK_SKIP_SHAPES)
            raise ValueError(
                f"block_skip must be one of {allowed} (the granularities traces record), got {list(self.block_skip)}"
            )
        return self


class ComputeSpec(_Strict):
    """The PE array."""

    rows: int = Field(..., ge=1, le=4096, description="PE rows (R)")
    cols: int = Field(..., ge=1, le=4096, description="PE columns (C)")
    dataflow: Dataflow = Field("output_stationary", description="which operand stays in the PEs")
    macs_per_pe_per_cycle: dict[Precision, int] = Field(
        ...,
        description="supported operand precisions and MACs one PE completes per cycle in each "
        "(packed low-precision modes give more)",
    )
    precision: Precision = Field(..., description="operand precision workloads run at on this array")
    accumulator_bits: int = Field(32, ge=8, le=64, description="accumulator width in bits")
    vector_lanes: int = Field(
        0, ge=0, description="lanes of the vector unit for non-GEMM ops (norms, softmax, ...); 0 = cols"
    )
    sparsity: SparsitySpec = Field(default_factory=SparsitySpec)

    fused_attention: bool = Field(
        True,
        description="attention runs as one tiled op whose score matrix stays on chip "
        "(FlashAttention-style, Dao et al., NeurIPS 2022); false: scores go to DRAM and back",
    )

    @model_validator(mode="after")
    def _precision_supported(self) -> ComputeSpec:
        if self.precision not in self.macs_per_pe_per_cycle:
            raise ValueError(
                f"precision {self.precision!r} is not among macs_per_pe_per_cycle "
                f"({', '.join(self.macs_per_pe_per_cycle)})"
            )
        if any(v < 1 for v in self.macs_per_pe_per_cycle.values()):
            raise ValueError("macs_per_pe_per_cycle values must be positive integers")
        return self


class MemoryLevel(_Strict):
    """One on-chip buffer level (innermost first)."""

    name: str = Field(..., min_length=1, description="level name, e.g. 'rf', 'glb'")
    size_bytes: int = Field(..., ge=1, description="capacity in bytes (per PE if per_pe)")
    per_pe: bool = Field(False, description="one instance per PE (register files)")
    banks: int = Field(1, ge=1, description="independent banks")
    width_bits: int = Field(64, ge=8, description="access width in bits")
    bandwidth_bytes_per_cycle: float = Field(..., gt=0, description="peak bytes per cycle (all banks)")
    double_buffered: bool = Field(False, description="half the capacity fills while the other half is used")
    read_energy_pj: float | None = Field(
        None, ge=0, description="energy per access of width_bits; default from accelerator/tech SRAM model"
    )
    write_energy_pj: float | None = Field(None, ge=0, description="energy per write access; default = read")
    leakage_mw: float | None = Field(None, ge=0, description="static power; default from the SRAM model")
    holds: tuple[Literal["act", "weight", "out"], ...] = Field(
        ("act", "weight", "out"), description="which operands this level stores"
    )


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
    levels: tuple[MemoryLevel, ...] = Field(..., min_length=1, description="on-chip levels, innermost first")
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


class ArchSpec(_Strict):
    """An accelerator design."""

    name: str = Field(..., min_length=1)
    description: str = ""
    clock_ghz: float = Field(..., gt=0, le=10, description="core clock in GHz")
    technology_nm: float = Field(
        ..., description="process node in nm; energies scale from the 45 nm tables (see accelerator.tech)"
    )
    compute: ComputeSpec
    memory: MemorySpec
    static_power_mw: float = Field(0.0, ge=0, description="leakage of logic outside the buffers, mW")
    mapping_objective: Literal["edp", "energy", "latency"] = Field(
        "edp",
        description="what the mapper minimises per op when it picks tiles, loop order and "
        "which activations stay on chip: energy x cycles, energy (incl. leakage), or cycles",
    )
    numerics: NumericsSpec = Field(
        default_factory=NumericsSpec,
        description="number formats, zero-skip thresholds, temporal deltas (accelerator.numerics); "
        "left-out fields follow compute",
    )

    @model_validator(mode="after")
    def _node_known(self) -> ArchSpec:
        if self.technology_nm not in KNOWN_NODES_NM:
            raise ValueError(
                f"technology_nm {self.technology_nm:g} has no scaling factors; "
                f"allowed: {', '.join(f'{n:g}' for n in KNOWN_NODES_NM)}"
            )
        return self

    @model_validator(mode="after")
    def _numerics_fit(self) -> ArchSpec:
        c = self.compute
        problem = numerics_fit_error(self.numerics, c.precision, c.accumulator_bits)
        if problem is not None:
            raise ValueError(problem)
        return self


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _allowed(err: Any) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"; allowed: {ctx['expected']}"
    return ""


def spec_error_from_validation(exc: ValidationError, positions: Positions, root: str = "") -> SpecError:
    """The first pydantic error as a located :class:`SpecError` (one paragraph)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    dotted = ".".join(p for p in (root, _dotted(loc)) if p)
    value = err.get("input")
    if err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; see docs/spec.md for the fields)"
    else:
        message = err["msg"].removeprefix("Value error, ")
        if not isinstance(value, dict):
            message += f", got {value!r}"
        message += _allowed(err)
    more = len(exc.errors()) - 1
    if more:
        message += f" ({more} more problem{'s' if more > 1 else ''} in this file)"
    return positions.error(dotted, message)


M = TypeVar("M", bound=BaseModel)


def model_from_data(cls: type[M], data: Any, positions: Positions, what: str, root: str = "") -> M:
    """Validate parsed YAML ``data`` as the schema ``cls``; errors are located :class:`SpecError`.

    ``what`` names the document in the message when it is not a mapping ("arch", "sweep", ...).
    """
    if not isinstance(data, dict):
        raise positions.error(root, f"expected a mapping of {what} fields, got {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from_validation(exc, positions, root) from None


def arch_from_data(data: Any, positions: Positions, root: str = "") -> ArchSpec:
    """Validate already-parsed YAML data as an :class:`ArchSpec`."""
    return model_from_data(ArchSpec, data, positions, "arch", root)


def load_arch(path: str | Path) -> ArchSpec:
    """Load and validate an architecture YAML file."""
    data, positions = load_yaml(path)
    return arch_from_data(data, positions)


def parse_arch(text: str, file: str = "<string>") -> ArchSpec:
    data, positions = parse_yaml(text, file)
    return arch_from_data(data, positions)
