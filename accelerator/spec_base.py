"""What the spec modules share: the strict base model, YAML tuples, type aliases and bounds.

``accelerator.spec`` re-exports everything here; import from there.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
Dataflow = Literal["output_stationary", "weight_stationary", "input_stationary", "row_stationary"]
Operand = Literal["act", "weight", "out"]
MemoryModel = Literal["one_level", "nest"]
ConvView = Literal["window", "im2col"]
DramKind = Literal["hbm2e", "hbm3", "hbm3e", "lpddr5", "ddr5", "ddr4"]
#: Rows of accelerator/tech/memory_tech.yaml (a unit test keeps these names equal to the table's).
LevelTechnology = Literal["sram", "edram", "dram_stacked", "rram", "stt_mram", "sot_mram"]
OffChipTechnology = Literal["hbm2e", "hbm3", "hbm3e", "lpddr5", "ddr5", "ddr4", "lpddr5x"]
Stacking = Literal["none", "hybrid_bond", "tsv"]


def _tuple_from_list(value: Any) -> Any:
    """YAML and JSON have lists, not tuples: a list is taken as the tuple it spells."""
    return tuple(value) if isinstance(value, list) else value


#: A tuple field that accepts a list (strict mode alone accepts only a tuple instance); the
#: items stay strict.
YamlTuple = BeforeValidator(_tuple_from_list)

#: Physical-plausibility bounds of the arch schema, in one place (docs/spec.md lists them per field).
#: Generous: no real design comes near them; they catch a typo (an extra zero or three, a unit
#: slip) before it costs memory or run time or prints an absurd number. Each has its reason.
MAX_ARRAY_DIM = 4096
MAX_MACS_PER_PE_PER_CYCLE = 1024
MAX_VECTOR_LANES = 1 << 20
MAX_LEVELS = 16
MAX_LEVEL_BYTES = 1 << 40
MAX_BANKS = 1 << 16
MAX_WIDTH_BITS = 1 << 16
MAX_METADATA_BITS = 1024
MAX_MAPPER_SAMPLES = 100_000
MAX_MAPPER_RESTARTS = 1024
MIN_CLOCK_GHZ = 1e-3
MAX_CLOCK_GHZ = 10.0
MIN_VDD_V = 0.3
MAX_VDD_V = 1.5
MAX_BYTES_PER_CYCLE = float(1 << 30)
MAX_ACCESS_ENERGY_PJ = 1e6
MAX_MAC_ENERGY_PJ = 1e3
MAX_POWER_MW = 2e6
MIN_DRAM_GB_PER_S = 1e-3
MAX_DRAM_GB_PER_S = 1e6
MAX_DRAM_PJ_PER_BIT = 1e3
MAX_DRAM_LATENCY_NS = 1e6
MAX_FLOP_CLOCK_FJ = 1e3

#: Why each bound above is what it is (``python -m accelerator.spec_doc`` prints this table).
BOUND_REASONS: dict[str, str] = {
    "MAX_ARRAY_DIM": "PE rows or columns (the largest published arrays are 256x256, TPU v1)",
    "MAX_MACS_PER_PE_PER_CYCLE": "packed low-precision MACs per PE per cycle; real arrays pack 1-16",
    "MAX_VECTOR_LANES": "vector-unit lanes; GPUs have ~2^14 FP32 lanes in all",
    "MAX_LEVELS": "on-chip memory levels; real designs have 2-4",
    "MAX_LEVEL_BYTES": "1 TiB per level (wafer-scale chips have ~44 GB of SRAM in all)",
    "MAX_BANKS": "banks of one level; large SRAMs have tens to hundreds",
    "MAX_WIDTH_BITS": "access width; the widest SRAM ports are ~1-4 Kib",
    "MAX_METADATA_BITS": "skip metadata per block; a mask or index is a few bits",
    "MAX_MAPPER_SAMPLES": "random factorizations per spatial candidate (the nest mapper)",
    "MAX_MAPPER_RESTARTS": "independent nest-mapper searches per (shape, design); 128 converge on the Eyeriss "
    "validation layers, and each costs a whole search",
    "MIN_CLOCK_GHZ": "1 MHz: the slowest clocked digital logic in use (sub-MHz parts are not accelerators)",
    "MAX_CLOCK_GHZ": "the fastest shipped logic clocks ~6 GHz (desktop CPUs, 2024)",
    "MIN_VDD_V": "0.3 V: the threshold voltage assumed at every node (accelerator.tech.voltage.VT_V); "
    "the node's own floor (Vt + 0.1 V or its energy fit's range) is checked after",
    "MAX_VDD_V": "1.5 V: above every listed node's nominal core supply (130 nm: 1.3 V); gate-oxide limits",
    "MAX_BYTES_PER_CYCLE": "a level's port: wafer-scale SRAM (WSE-3, 21 PB/s at ~1.1 GHz) is ~2^24",
    "MAX_ACCESS_ENERGY_PJ": "one access: 1 uJ = 1,000 pJ/bit x 1,024 bits; SRAM reads are ~0.1-10 pJ/bit",
    "MAX_MAC_ENERGY_PJ": "one MAC: fp32 at 45 nm is ~4.6 pJ (Horowitz ISSCC 2014), x200 for old nodes",
    "MAX_POWER_MW": "2 kW: the largest module TDP published is ~1.2-1.4 kW (B200/B300 class)",
    "MIN_DRAM_GB_PER_S": "1 MB/s: below any DRAM interface (a x8 DDR3-800 part is 0.8 GB/s)",
    "MAX_DRAM_GB_PER_S": '1 PB/s: 125x the fastest HBM3e package (B200, 8 TB/s); tests use it as "DRAM never limits"',
    "MAX_DRAM_PJ_PER_BIT": "DDR4 with I/O is ~15-20 pJ/bit, HBM3 ~4 (energy_45nm.yaml); x50",
    "MAX_DRAM_LATENCY_NS": "1 ms: DRAM is ~100 ns, CXL-attached memory ~300-600 ns",
    "MAX_FLOP_CLOCK_FJ": "1 pJ per flip-flop per cycle: a 45 nm flop's clock pin, wire, internal clock inverters "
    "and leaf-buffer share are ~7-12 fJ (accelerator/tech/clock_45nm.yaml); x20 for 130 nm, x4 margin",
}


class LocatedError(ValueError):
    """A validator's error about a field below the model that raises it: ``loc`` is appended to
    the error's location (``accelerator.spec_errors`` reads it), so a combination check at the
    memory level can point at ``memory.levels.2.technology``."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
