"""The costs of a design with ``mapping.memory_model: nest`` for :mod:`simulator.evaluation`:
the loop-nest engine (:func:`simulator.cost.nest_costs.evaluate_table`) with the spec's DRAM code
and, where the design asks for it and it pays, weights resident across steps.

Weight residency follows the one-level model's rules (:mod:`simulator.cost.residency`): the
parameters must fit their level (:func:`~simulator.cost.residency.plan`), every op must still map
with what is left, and the squeezed mappings plus the fill must move no more DRAM bytes per image
than reading the weights per op (:func:`simulator.cost.residency.dram_refusal`); otherwise the
design runs per op and its result says why. The caller adds the fill once per image
(:func:`simulator.cost.residency.fill_cost`).

The event fidelity replays the nests' demands (:func:`simulator.cost.event.simulate`): per op the
tiles DRAM hands the outermost on-chip level, the units its loads overlap in, DRAM's read and
write time and the on-chip busy time (:class:`simulator.cost.nest_columns.Nest`). It loads a
prefetched operand (``memory.levels[].prefetch``) with the tile's other operands, in series with
compute, and the result's notes say so (:func:`simulator.cost.event.prefetch_note`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from simulator.cost import residency
from simulator.cost.nest.compression import spec_code
from simulator.cost.nest.search import Mapper
from simulator.cost.nest_costs import NestCosts, evaluate_table, new_mapper
from simulator.cost.residency import Residency
from simulator.optable import OpTable


def nest_costs(
    table: OpTable,
    arch: ArchSpec,
    fidelity: str,
    objective: str | None,
    mapper: Mapper | None,
    counts: np.ndarray,
    resident_ok: bool,
) -> tuple[NestCosts, Residency | None]:
    """The nest engine's costs of ``table`` on ``arch`` and the weights' residency (None unless the
    design asks for ``across_steps`` and ``resident_ok``)."""
    code = spec_code(arch.memory.dram.compression)
    mapper = mapper if mapper is not None else new_mapper(arch)  # one mapper for both passes
    costs = evaluate_table(table, arch, objective, mapper, dram_code=code)
    res = None
    if resident_ok and arch.memory.weight_residency == "across_steps":
        res = residency.plan(table, arch, costs.costs.hw)
        if res.resident:
            try:
                kept = evaluate_table(table, arch, objective, mapper, dram_code=code, residency=res)
            except SimulationError as exc:
                res = residency.refuse(res, f"the remaining capacity maps no tile ({exc})")
            else:
                refused = residency.dram_refusal(res, counts, costs.costs, kept.costs)
                res, costs = (refused, costs) if refused is not None else (res, kept)
    if fidelity == "event":
        from simulator.cost.event import prefetch_note, simulate  # lazy: simpy, only for the event fidelity

        note = prefetch_note(costs.costs.hw)
        notes = costs.notes if note is None else (*costs.notes, note)
        costs = replace(costs, costs=simulate(table, costs.costs), notes=notes)
    return costs, res
