"""Which activations the nest path keeps on chip between ops: the one-level model's decision
(:mod:`simulator.cost.mapping`) on the nest's costs.

An op may take its input from the op before it when the workload chains them
(:func:`simulator.optable.chain_edges`: a tensor id the op before wrote, or the size rule of a
layer list) and an on-chip level holds activations; the op before then keeps its output for it
(still writing it to DRAM when another op reads it too: ``OpTable.out_shared``). Every op is
costed in each of its four keep states (input on chip or not, output kept or not) where they
apply: a GEMM-like op by mapping its nests on the design with the kept tensors' room taken
(:mod:`simulator.cost.nest_homes`; a state whose tiles no longer fit is not an option), a vector
op by the one-level model's vector unit. The same dynamic programme as the one-level model's
(:func:`simulator.cost.mapping.keep_edges`) then picks the keep decision of every edge that
minimises the summed objective, so a tensor is kept only where it fits and pays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.cost import mapping as one_level
from simulator.cost.hardware import Hardware
from simulator.cost.mapping import RES_IN, RES_OUT
from simulator.cost.nest_homes import Homes
from simulator.cost.vector import VectorWork
from simulator.optable import OpTable

#: ``gemm_objective(op, res_in, res_out)``: the objective of a GEMM-like op's nests in that keep
#: state (inf when it cannot keep them).
GemmObjective = Callable[[int, bool, bool], float]


def chained(table: OpTable, homes: Homes) -> bool:
    """Whether any op of ``table`` may keep a tensor for the next one on this design."""
    return bool(table.chain_in.any()) and homes.act_level >= 0 and homes.out_level >= 0


def keep_edges(
    table: OpTable, hw: Hardware, homes: Homes, work: VectorWork, objective: str, gemm_objective: GemmObjective
) -> tuple[np.ndarray, np.ndarray]:
    """Per op, whether its input is read on chip (``res_in``) and its output kept (``res_out``).

    ``work``: the vector unit's work (:func:`simulator.cost.nest_columns.vector_work_of`); a
    GEMM-like op's own vector work (attention's softmax) does not depend on the keep state."""
    n = table.n_ops
    if not chained(table, homes):
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    obj = np.array(one_level.vector_objective(hw, work, objective), dtype=np.float64)  # [n, 4]
    can_in = table.chain_in
    can_out = np.concatenate([table.chain_in[1:], [False]])
    ok = (can_in[:, None] | ~RES_IN[None, :]) & (can_out[:, None] | ~RES_OUT[None, :])  # [n, 4]
    obj[~ok] = np.inf
    for i in sorted(set(table.g_op.tolist())):
        vec = obj[i, 0]
        for c in range(4):
            obj[i, c] = vec + gemm_objective(i, bool(RES_IN[c]), bool(RES_OUT[c])) if ok[i, c] else np.inf
    return one_level.keep_edges(obj, table.chain_in)
