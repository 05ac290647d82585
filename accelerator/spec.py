"""The accelerator specification: a strict, frozen schema loaded from YAML.

An :class:`ArchSpec` says what the hardware is; energy and area come from the cited tables in
``accelerator/tech`` unless the spec overrides them (``compute.mac_energy_pj``, a level's
``read_energy_pj``). Every field documents its unit. Loading errors name
``file:line dotted.field``, the bad value and what is allowed.

Types are strict (pydantic strict mode): a bool is not a number, a string is not a number, a
float is not an integer (``rows: 16.0`` is an error, as is ``rows: true``); only an integer
where a float is expected is accepted, and a YAML list where a tuple is expected. Counts and
sizes whose memory or run time grows with them have declared upper bounds (``le=``) far above
any real design, so a typo (an extra zero or three) is an error, not an hour of simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from accelerator.numerics import NumericsSpec, numerics_fit_error
from accelerator.spec_errors import model_from_data as model_from_data
from accelerator.spec_errors import spec_error_from_validation as spec_error_from_validation
from accelerator.tech import KNOWN_NODES_NM
from accelerator.tech import PRECISION_BITS as PRECISION_BITS  # bits per operand, re-exported
from accelerator.yamlpos import Positions, load_yaml, parse_yaml

Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
Dataflow = Literal["output_stationary", "weight_stationary", "input_stationary"]
DramKind = Literal["hbm2e", "hbm3", "hbm3e", "lpddr5", "ddr5", "ddr4"]


def _tuple_from_list(value: Any) -> Any:
    """YAML and JSON have lists, not tuples: a list is taken as the tuple it spells."""
    return tuple(value) if isinstance(value, list) else value


#: A tuple field that accepts a list (strict mode alone accepts only a tuple instance); the
#: items stay strict.
YamlTuple = BeforeValidator(_tuple_from_list)

#: Upper bounds of count-like fields (generous: no real design comes near them; they catch a
#: typo before it costs memory or run time).
MAX_ARRAY_DIM = 4096  # PE rows or columns (the largest published arrays are 256x256, TPU v1)
MAX_MACS_PER_PE_PER_CYCLE = 1024  # packed MACs per PE per cycle
MAX_VECTOR_LANES = 1 << 20
MAX_LEVELS = 16  # on-chip memory levels
MAX_LEVEL_BYTES = 1 << 40  # 1 TiB per level (wafer-scale chips have ~44 GB of SRAM in all)
MAX_BANKS = 1 << 16
MAX_WIDTH_BITS = 1 << 16
MAX_METADATA_BITS = 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


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
    block_skip: Annotated[tuple[int, int] | None, YamlTuple] = Field(
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
        1, ge=0, le=MAX_METADATA_BITS, description="bits of skip metadata (mask/index) fetched per skippable block"
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

    rows: int = Field(..., ge=1, le=MAX_ARRAY_DIM, description="PE rows (R)")
    cols: int = Field(..., ge=1, le=MAX_ARRAY_DIM, description="PE columns (C)")
    dataflow: Dataflow = Field("output_stationary", description="which operand stays in the PEs")
    macs_per_pe_per_cycle: dict[Precision, Annotated[int, Field(ge=1, le=MAX_MACS_PER_PE_PER_CYCLE)]] = Field(
        ...,
        description="supported operand precisions and MACs one PE completes per cycle in each "
        "(packed low-precision modes give more)",
    )
    precision: Precision = Field(..., description="operand precision workloads run at on this array")
    accumulator_bits: int = Field(32, ge=8, le=64, description="accumulator width in bits")
    vector_lanes: int = Field(
        0,
        ge=0,
        le=MAX_VECTOR_LANES,
        description="lanes of the vector unit for non-GEMM ops (norms, softmax, ...); 0 = cols",
    )
    sparsity: SparsitySpec = Field(default_factory=SparsitySpec)
    mac_energy_pj: dict[Precision, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="energy of one MAC in pJ per precision at this design's node (used as given, "
        "not node-scaled): the multiply plus the PE's share of its adder tree and accumulate "
        "(what a synthesised PE costs per MAC); a precision left out uses the cited 45 nm tables "
        "(Horowitz ISSCC 2014, mult + add) scaled to technology_nm; keys must be among "
        "macs_per_pe_per_cycle",
    )

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
        return self

    @field_validator("mac_energy_pj")
    @classmethod
    def _mac_energy_of_supported(cls, v: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        supported = info.data.get("macs_per_pe_per_cycle")
        if supported is None:
            return v
        unsupported = [p for p in v if p not in supported]
        if unsupported:
            raise ValueError(
                f"names {', '.join(unsupported)}, which the array does not run; "
                f"allowed: {', '.join(supported)} (the keys of macs_per_pe_per_cycle)"
            )
        return v


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
    holds: Annotated[tuple[Literal["act", "weight", "out"], ...], YamlTuple] = Field(
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
