"""Inter-op reuse by tensor ids never reads from DRAM a tensor that was not written there
(hypothesis).

A random dataflow graph of elementwise ops (each reads one to three distinct earlier tensors or
step inputs, all of one size) on a design whose buffer may or may not hold a kept tensor: every
op's DRAM reads are at most one tensor per input that is a step input or whose producer wrote to
DRAM. The size rule of version-1 traces (every op chained to the one before, every kept write
dropped) breaks this on any tensor read twice.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simcase import arch

from models.workload import Op, Workload
from simulator.cost.analytic import evaluate_table
from simulator.cost.vector import vector_cost, vector_work
from simulator.optable import prepare

EXAMPLES = int(os.environ.get("PJ_HYPOTHESIS_EXAMPLES", "30"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ELEMS = 256  # every tensor: 16 x 16
STEP_INPUTS = 2  # tensor ids 0 and 1


@st.composite
def graphs(draw: Any) -> Workload:
    n = draw(st.integers(2, 10))
    ops = []
    for i in range(n):
        pool = list(range(STEP_INPUTS + i))  # the step inputs and every earlier op's output
        reads = tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)))
        ops.append(
            Op(
                name=f"op{i}",
                kind="elementwise",
                input_shapes=tuple((16, 16) for _ in reads),
                output_shape=(16, 16),
                flops=ELEMS,
                act_bytes=len(reads) * ELEMS * 4,
                out_bytes=ELEMS * 4,
                reads=reads,
                writes=(STEP_INPUTS + i,),
            )
        )
    return Workload(ops=tuple(ops), steps=1, format_version=2)


@SETTINGS
@given(graphs(), st.sampled_from([1 << 20, 300, 100]))
def test_no_tensor_is_read_from_dram_unless_written_there(w: Workload, glb_bytes: int) -> None:
    table = prepare(w)
    costs = evaluate_table(table, arch(8, 8, glb_bytes=glb_bytes))
    mp = costs.mapping
    vc = vector_cost(costs.hw, vector_work(table, costs.hw), mp.res_in, mp.res_out)
    rd, wr = vc.dram_rd_bytes.tolist(), vc.dram_wr_bytes.tolist()
    tensor = ELEMS * costs.hw.a_bits / 8
    for j, op in enumerate(w.ops):
        in_dram = sum(1 for t in op.reads if t < STEP_INPUTS or wr[t - STEP_INPUTS] > 0)
        assert rd[j] <= in_dram * tensor
        assert wr[j] in (0.0, tensor)
        if mp.res_in[j]:
            assert mp.res_out[j - 1] and set(w.ops[j - 1].writes) & set(op.reads)
