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
MAX_MAPPER_SAMPLES = 100_000  # random factorizations per spatial candidate (the nest mapper)


class LocatedError(ValueError):
    """A validator's error about a field below the model that raises it: ``loc`` is appended to
    the error's location (``accelerator.spec_errors`` reads it), so a combination check at the
    memory level can point at ``memory.levels.2.technology``."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
