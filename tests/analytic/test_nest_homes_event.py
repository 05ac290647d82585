"""The event fidelity on the nest path: the columns carry each op's DRAM reads and writes (kept
tensors left out), its tiles and units, and :func:`simulator.cost.event.simulate` replays them.

The design and the two chained GEMMs of tests/analytic/test_nest_homes.py: fc1 keeps its output
for fc2, so fc1 reads ``64·48 + 48·32`` bytes and writes none, fc2 reads ``32·16`` and writes
``64·16``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelerator.spec import parse_arch
from models.layers import load_layers_yaml
from simulator.cost.hardware import hardware
from simulator.evaluation import evaluate
from simulator.nest_evaluation import nest_costs
from simulator.optable import prepare

ARCH = """name: homes
clock_ghz: 1.0
technology_nm: 45
mapping: {memory_model: nest}
compute:
  rows: 8
  cols: 8
  dataflow: weight_stationary
  macs_per_pe_per_cycle: {int8: 1}
  precision: int8
memory:
  levels:
    - {name: glb, size_bytes: 1048576, banks: 16, width_bits: 64, bandwidth_bytes_per_cycle: 128,
       double_buffered: true}
  dram: {kind: lpddr5, bandwidth_gb_per_s: 51.2}
"""
LAYERS = """name: w
steps: 1
layers:
  - {name: fc1, type: gemm, M: 64, N: 32, K: 48}
  - {name: fc2, type: gemm, M: 64, N: 16, K: 32}
"""


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("w") / "w.layers.yaml"
    p.write_text(LAYERS, encoding="utf-8")
    return p


def test_columns_carry_dram_reads_writes_and_tiles(path: Path) -> None:
    spec = parse_arch(ARCH)
    table = prepare(load_layers_yaml(path))
    costs = nest_costs(table, spec, "analytic", None, None, np.ones(1), True)[0].costs
    bw = hardware(spec).dram_bytes_per_cycle
    np.testing.assert_allclose(costs.dram_rd_cycles[0], [(64 * 48 + 48 * 32) / bw, 32 * 16 / bw], rtol=1e-12)
    np.testing.assert_allclose(costs.dram_wr_cycles[0], [0.0, 64 * 16 / bw], rtol=1e-12)
    np.testing.assert_allclose(
        (costs.dram_rd_cycles + costs.dram_wr_cycles) * bw, costs.traffic_bytes["dram"], rtol=1e-12
    )
    assert (costs.tiles >= 1).all() and (costs.units >= costs.tiles).all()
    assert (costs.level_cycles[0] >= costs.compute_cycles[0]).all()


def test_event_replays_the_nests(path: Path) -> None:
    spec = parse_arch(ARCH)
    workload = load_layers_yaml(path)
    ana = evaluate(workload, spec)
    ev = evaluate(workload, spec, fidelity="event")
    assert ev.extras["fidelity"] == "event"
    bw = hardware(spec).dram_bytes_per_cycle
    for a, e in zip(ana.per_op, ev.per_op, strict=True):
        assert e.traffic_bytes == a.traffic_bytes
        for k, v in a.energy_breakdown_j.items():
            if k != "leakage":
                assert e.energy_breakdown_j[k] == pytest.approx(v, rel=1e-12)
        assert e.timeline["end_s"] > e.timeline["start_s"] >= 0
    # the step takes at least the array's work and at least DRAM's bytes at its bandwidth
    total_cycles = sum(op.cycles for op in ev.per_op)
    assert total_cycles >= sum(op.compute_cycles for op in ev.per_op)
    assert total_cycles >= ev.extras["traffic_bytes_per_image"]["dram"] / bw
