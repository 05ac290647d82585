"""The memory hierarchy as deep as the hardware: Timeloop/ZigZag-style loop-nest cost model.

``simulator.evaluate`` runs it for a design with ``mapping.memory_model: nest``
(:mod:`simulator.cost.nest_costs`, docs/memory-model.md).
Modules: ``problem`` (the loop nest), ``arch`` (levels, array, widths),
``mapping`` (tile factors, loop orders, spatial unrolling), ``counts`` (reuse analysis, numba),
``tiles`` (tile sizes and the capacity rule, numba),
``analysis`` (energy and cycles), ``score`` (batched scoring), ``search`` (the mapper),
``spatial`` (its spatial candidates), ``fast`` (its fast strategy), ``pool`` and ``rows``
(candidates and counts kept across searches),
``presets`` (spatial unrollings, the Eyeriss and ZigZag designs), ``ops`` (workload ops as
nests), ``oracle`` (brute-force simulation for tests), ``kernel_cache`` (numba's on-disk cache
keyed on all the kernels' sources: bound here, once every kernel module is imported).
"""

from simulator.cost.nest.analysis import NestResult, evaluate
from simulator.cost.nest.arch import NestArch, NestLevel, from_spec, per_pe_level
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.presets import PRESETS, SpatialPreset, eyeriss, zigzag_tpu_like
from simulator.cost.nest.problem import Problem, attention, conv, conv_from_input, gemm
from simulator.cost.nest.search import Mapper

from simulator.cost.nest import counts, fast_kernels, kernel_cache, moves, rows, score, spatial, systolic, tiles, union  # isort: skip

#: SHA-256 of the kernels' sources: every cached kernel's on-disk cache is keyed on it too.
KERNEL_SOURCES = kernel_cache.bind([counts, fast_kernels, moves, rows, score, spatial, systolic, tiles, union])

__all__ = [
    "PRESETS",
    "Mapper",
    "Mapping",
    "NestArch",
    "NestLevel",
    "NestResult",
    "Problem",
    "SpatialPreset",
    "attention",
    "conv",
    "conv_from_input",
    "evaluate",
    "eyeriss",
    "from_spec",
    "gemm",
    "per_pe_level",
    "zigzag_tpu_like",
]
