"""The accelerator specification: a strict, frozen schema loaded from YAML.

An :class:`ArchSpec` says what the hardware is; energy and area come from the cited tables in
``accelerator/tech`` unless the spec overrides them (``compute.mac_energy_pj``, a level's
``read_energy_pj``). Every field documents its unit. Loading errors name
``file:line dotted.field``, the bad value and what is allowed.

Types are strict (pydantic strict mode): a bool is not a number, a string is not a number, a
float is not an integer (``rows: 16.0`` is an error, as is ``rows: true``); only an integer
where a float is expected is accepted, and a YAML list where a tuple is expected. Counts and
sizes whose memory or run time grows with them, and every rate, energy and power, have declared
physical-plausibility bounds (``ge=``/``le=``, the constants of ``accelerator.spec_base`` with
their reasons in ``BOUND_REASONS``) far from any real design, so a typo (an extra zero or three,
a unit slip) is an error, not an hour of simulation or an absurd result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from accelerator.numerics import NumericsSpec, numerics_fit_error
from accelerator.spec_base import BOUND_REASONS as BOUND_REASONS
from accelerator.spec_base import MAX_ARRAY_DIM as MAX_ARRAY_DIM
from accelerator.spec_base import MAX_BANKS as MAX_BANKS
from accelerator.spec_base import MAX_CLOCK_GHZ as MAX_CLOCK_GHZ
from accelerator.spec_base import MAX_LEVEL_BYTES as MAX_LEVEL_BYTES
from accelerator.spec_base import MAX_LEVELS as MAX_LEVELS
from accelerator.spec_base import MAX_MAC_ENERGY_PJ as MAX_MAC_ENERGY_PJ
from accelerator.spec_base import MAX_MACS_PER_PE_PER_CYCLE as MAX_MACS_PER_PE_PER_CYCLE
from accelerator.spec_base import MAX_MAPPER_RESTARTS as MAX_MAPPER_RESTARTS
from accelerator.spec_base import MAX_MAPPER_SAMPLES as MAX_MAPPER_SAMPLES
from accelerator.spec_base import MAX_METADATA_BITS as MAX_METADATA_BITS
from accelerator.spec_base import MAX_POWER_MW as MAX_POWER_MW
from accelerator.spec_base import MAX_VDD_V as MAX_VDD_V
from accelerator.spec_base import MAX_VECTOR_LANES as MAX_VECTOR_LANES
from accelerator.spec_base import MAX_WIDTH_BITS as MAX_WIDTH_BITS
from accelerator.spec_base import MIN_CLOCK_GHZ as MIN_CLOCK_GHZ
from accelerator.spec_base import MIN_VDD_V as MIN_VDD_V
from accelerator.spec_base import ConvView as ConvView
from accelerator.spec_base import Dataflow as Dataflow
from accelerator.spec_base import DramKind as DramKind
from accelerator.spec_base import LevelTechnology as LevelTechnology
from accelerator.spec_base import LocatedError
from accelerator.spec_base import MemoryModel as MemoryModel
from accelerator.spec_base import Operand as Operand
from accelerator.spec_base import Precision as Precision
from accelerator.spec_base import Strict as _Strict
from accelerator.spec_base import YamlTuple as YamlTuple
from accelerator.spec_clock import ClockNetworkSpec as ClockNetworkSpec
from accelerator.spec_clock import register_storage_problem
from accelerator.spec_dram import DramCompression as DramCompression
from accelerator.spec_dram import DramSpec as DramSpec
from accelerator.spec_dram import dram_compression_problem
from accelerator.spec_errors import model_from_data as model_from_data
from accelerator.spec_errors import spec_error_from_validation as spec_error_from_validation
from accelerator.spec_memory import MemoryLevel as MemoryLevel
from accelerator.spec_memory import MemorySpec as MemorySpec
from accelerator.spec_memory import NvmUse as NvmUse
from accelerator.spec_memory import OperandPartition as OperandPartition
from accelerator.tech import KNOWN_NODES_NM, NOMINAL_VDD_V
from accelerator.tech import PRECISION_BITS as PRECISION_BITS  # bits per operand, re-exported
from accelerator.tech.memory import memory_technology
from accelerator.tech.voltage import max_clock_ghz, min_vdd_v
from accelerator.yamlpos import Positions, load_yaml, parse_yaml

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
    dataflow: Dataflow = Field(
        "output_stationary",
        description="which operand stays in the PEs; row_stationary (Eyeriss, Chen et al. JSSC 2017: filter "
        "rows across PE rows, output rows across columns) needs mapping.memory_model: nest",
    )
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
    mac_energy_pj: dict[Precision, Annotated[float, Field(ge=0, le=MAX_MAC_ENERGY_PJ, allow_inf_nan=False)]] = Field(
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


class MappingSpec(_Strict):
    """Which memory model costs the GEMM-like ops, and the nest mapper's search."""

    memory_model: MemoryModel = Field(
        "one_level",
        description="one_level: today's model (one tiling level, the closed forms of docs/simulator.md); nest: "
        "the loop-nest engine (simulator/cost/nest, docs/memory-model.md) with per-PE storage that gives "
        "reuse; opt-in, what it does not model yet is listed in the result's notes",
    )
    conv_view: ConvView = Field(
        "window",
        description="how the nest engine sees a convolution: window keeps its seven dimensions (N K C P Q R S, "
        "the input's sliding-window reuse); im2col runs it as its GEMM view, as an im2col systolic array "
        "(SCALE-Sim, TPU-like) does: M = N*P*Q output pixels, N = K/groups filters, K = C/groups*R*S "
        "flattened onto one dimension, one copy per group, the input read as the expanded M x K matrix "
        "(its traffic is that matrix's, as SCALE-Sim counts it). The one_level model ignores it: its array "
        "folds are the GEMM view's already and its input traffic is the input tensor's (docs/memory-model.md)",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the nest mapper's random sampling")
    samples: int = Field(
        600,
        ge=1,
        le=MAX_MAPPER_SAMPLES,
        description="nest mapper: random temporal factorizations per spatial candidate before local search",
    )
    search: Literal["sampled", "fast"] = Field(
        "sampled",
        description="nest mapper's strategy: sampled (samples random factorizations per spatial candidate, then "
        "local search; the default) or fast (about 20 constructive seeds per candidate filled by capacity, the "
        "3 best candidates' local searches and one kick each; about a tenth of the scored candidates and 3x "
        "faster cold, objective 0.988x sampled's as a geometric mean over 1,846 searches, worst 1.43x: "
        "docs/memory-model.md, The fast strategy); samples and seed are unused with fast (but for restarts)",
    )
    restarts: int = Field(
        1,
        ge=1,
        le=MAX_MAPPER_RESTARTS,
        description="nest mapper: independent searches per (shape, design): search's own, then sampled ones "
        "seeded seed+1, seed+2, ...; the best by the objective wins (ties: the earliest). n times the "
        "search's time; for validation runs where one search's local optimum matters (docs/validation.md)",
    )


class ArchSpec(_Strict):
    """An accelerator design."""

    name: str = Field(..., min_length=1)
    description: str = ""
    clock_ghz: float = Field(..., ge=MIN_CLOCK_GHZ, le=MAX_CLOCK_GHZ, description="core clock in GHz")
    technology_nm: float = Field(
        ..., description="process node in nm; energies scale from the 45 nm tables (see accelerator.tech)"
    )
    vdd_v: float | None = Field(
        None,
        ge=MIN_VDD_V,
        le=MAX_VDD_V,
        allow_inf_nan=False,
        description="core supply voltage in V; default: the node's nominal (accelerator.tech.NOMINAL_VDD_V). "
        "Scales dynamic energy by the node's Stillmaker & Baas 2017 polynomial and the SRAM model's "
        "leakage by vdd/nominal (user-given energies and leakage_mw, static_power_mw are used as given); "
        "clock_ghz must not exceed the alpha-power-law limit at this vdd (Sakurai & Newton, JSSC 1990: "
        "accelerator.tech.voltage.max_clock_ghz); both memory models apply it",
    )
    # mapping comes before compute and memory so that their validators see the memory model
    mapping: MappingSpec = Field(
        default_factory=MappingSpec, description="memory model (one_level or nest) and the nest mapper's search"
    )
    compute: ComputeSpec
    memory: MemorySpec
    static_power_mw: float = Field(
        0.0, ge=0, le=MAX_POWER_MW, allow_inf_nan=False, description="leakage of logic outside the buffers, mW"
    )
    clock_network: ClockNetworkSpec = Field(
        default_factory=ClockNetworkSpec,
        description="the clock network's energy per cycle (off by default; accelerator.spec_clock)",
    )
    mapping_objective: Literal["edp", "energy", "latency"] = Field(
        "edp",
        description="what the mapper minimises per op when it picks tiles, loop order and "
        "which activations stay on chip: energy x cycles, energy (incl. leakage and the clock network per "
        "cycle, as reported), or cycles",
    )
    numerics: NumericsSpec = Field(
        default_factory=NumericsSpec,
        description="number formats, zero-skip thresholds, temporal deltas (accelerator.numerics); "
        "left-out fields follow compute",
    )

    @field_validator("compute")
    @classmethod
    def _dataflow_has_model(cls, v: ComputeSpec, info: ValidationInfo) -> ComputeSpec:
        mapping = info.data.get("mapping")
        if v.dataflow == "row_stationary" and mapping is not None and mapping.memory_model != "nest":
            raise ValueError(
                "dataflow row_stationary needs mapping.memory_model: nest (the one_level model has closed forms "
                "for output_, weight_ and input_stationary only)"
            )
        return v

    @field_validator("memory")
    @classmethod
    def _per_pe_innermost(cls, v: MemorySpec, info: ValidationInfo) -> MemorySpec:
        mapping = info.data.get("mapping")
        if mapping is None or mapping.memory_model != "nest":
            return v
        kinds = [lv.per_pe for lv in v.levels]
        if any(not a and b for a, b in zip(kinds, kinds[1:], strict=False)):
            raise ValueError(
                "memory_model nest needs the per-PE levels first (levels run innermost first: per-PE storage, "
                "then the shared buffers), got " + ", ".join(f"{lv.name}{' (per_pe)' * lv.per_pe}" for lv in v.levels)
            )
        return v

    @model_validator(mode="after")
    def _node_known(self) -> ArchSpec:
        if self.technology_nm not in KNOWN_NODES_NM:
            raise ValueError(
                f"technology_nm {self.technology_nm:g} has no scaling factors; "
                f"allowed: {', '.join(f'{n:g}' for n in KNOWN_NODES_NM)}"
            )
        return self

    @model_validator(mode="after")
    def _supply_voltage(self) -> ArchSpec:
        v = self.vdd_v
        if v is None or self.technology_nm not in KNOWN_NODES_NM:
            return self
        node = self.technology_nm
        low = min_vdd_v(node)
        if v < low:
            raise LocatedError(
                ("vdd_v",),
                f"{v:g} V is below {low:.3g} V, the lowest supply the {node:g} nm models cover (threshold "
                f"0.3 V + 0.1 V, or where the node's energy fit stops falling: accelerator.tech.voltage); "
                f"nominal is {NOMINAL_VDD_V[node]:g} V",
            )
        f_max = max_clock_ghz(node, v)
        if self.clock_ghz > f_max * (1 + 1e-9):
            raise LocatedError(
                ("clock_ghz",),
                f"{self.clock_ghz:g} GHz exceeds {f_max:.4g} GHz, the fastest clock at vdd_v {v:g} V "
                f"({node:g} nm; alpha-power law, Sakurai & Newton JSSC 1990, from the assumed nominal clock: "
                "accelerator.tech.voltage.max_clock_ghz): lower clock_ghz or raise vdd_v",
            )
        return self

    @model_validator(mode="after")
    def _memory_technology_nodes(self) -> ArchSpec:
        for i, lv in enumerate(self.memory.levels):
            if lv.technology is None or lv.stacking != "none":
                continue
            row = memory_technology(lv.technology)
            if not row.stacked and row.min_node_nm is not None and self.technology_nm < row.min_node_nm:
                raise LocatedError(
                    ("memory", "levels", i, "technology"),
                    f"{lv.technology} is offered on a logic die down to {row.min_node_nm:g} nm "
                    f"(accelerator/tech/memory_tech.yaml), this design is {self.technology_nm:g} nm: "
                    "put the level on a die of its own (stacking: hybrid_bond) or use a larger node",
                )
        return self

    @model_validator(mode="after")
    def _dram_compression_fits(self) -> ArchSpec:
        problem = dram_compression_problem(self.memory.dram, self.compute.precision, self.mapping.memory_model)
        if problem is not None:
            raise LocatedError(("memory", "dram", *problem[0]), problem[1])
        return self

    @model_validator(mode="after")
    def _register_storage_exists(self) -> ArchSpec:
        problem = register_storage_problem(self.clock_network, self.memory)
        if problem is not None:
            raise LocatedError(("clock_network", "register_storage", *problem[0]), problem[1])
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
