"""Sparsity on the loop-nest engine's columns: zero gating beyond the MAC, block skipping,
compacted activations and temporal deltas (the one-level model's :mod:`simulator.cost.sparsity`
effects, applied to :func:`simulator.cost.nest_costs.evaluate_table`'s dense nests).

:func:`apply` takes the dense columns and the mapped nests of every op and returns the columns
with the design's sparsity; :func:`notes` says what of it the nest path does not model yet.
"""

from __future__ import annotations

from accelerator.spec import ArchSpec
from simulator.cost.analytic import OpCosts
from simulator.cost.hardware import Hardware
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch
from simulator.optable import OpTable


def notes(arch: ArchSpec, table: OpTable) -> list[str]:
    """What of the design's sparsity the nest path leaves out, one note each."""
    sp = arch.compute.sparsity
    head = "memory_model nest: "
    out: list[str] = []
    if sp.act_zero_gating or sp.weight_zero_gating:
        out.append(head + "zero gating saves MAC energy only (scratchpad and buffer accesses still charged)")
    if sp.block_skip is not None:
        out.append(head + "block skipping not modelled yet: dense cycles, skipped_cycles 0")
    if sp.compact_activations:
        out.append(head + "compacted activations not modelled yet: dense DRAM and buffer bytes")
    if arch.numerics.temporal_delta.enabled or (arch.numerics.temporal_delta.enabled is None and sp.temporal_delta):
        out.append(head + "temporal deltas not modelled yet: every step runs dense")
    return out


def apply(
    table: OpTable,
    hw: Hardware,
    costs: OpCosts,
    results: dict[int, list[NestResult]],
    narch: NestArch,
) -> OpCosts:
    """``costs`` (dense nests, MAC zero gating applied) with the rest of the design's sparsity.

    ``results``: per GEMM-like op, its mapped nests (per level and operand reads and writes)."""
    return costs
