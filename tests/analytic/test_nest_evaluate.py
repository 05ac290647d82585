"""``mapping.memory_model: nest`` through ``simulator.evaluate`` and ``picojoule run``: closed forms.

The nest path (simulator/cost/nest_costs.py) beside the one-level model on a design where the
two map a dense GEMM the same way: a weight-stationary R×C array, no per-PE storage, one
double-buffered GLB, one MAC per PE per cycle, ``K`` a multiple of ``R`` and ``N`` of ``C`` (so
the nest's perfect factorization fills the array: reduction across rows, output channels across
columns). Then the nest's compute cycles are the array's temporal work ``M·⌈K/R⌉·⌈N/C⌉`` plus
its systolic fill/drain once per fold (simulator.cost.nest.systolic): SCALE-Sim's
``folds·(2R + C + M − 2)``, the one-level closed form ``changes·(2R + C − 2) + M·folds`` at its
fewest changes (one per fold); the one-level model's buffer tiles never change folds less often
(docs/simulator.md, "Compute").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelerator.errors import SimulationError
from accelerator.spec import parse_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cli import main
from simulator.cost.nest_costs import evaluate_table, new_mapper
from simulator.evaluation import evaluate
from simulator.optable import prepare
from simulator.result import design_to_json

R, C = 8, 8
M, N, K = 64, 32, 48


def arch_text(model: str = "nest", dataflow: str = "weight_stationary", extra_compute: str = "") -> str:
    return f"""name: nest-ws
clock_ghz: 1.0
technology_nm: 45
mapping: {{memory_model: {model}}}
compute:
  rows: {R}
  cols: {C}
  dataflow: {dataflow}
  macs_per_pe_per_cycle: {{int8: 1}}
  precision: int8
{extra_compute}memory:
  levels:
    - {{name: glb, size_bytes: 1048576, banks: 16, width_bits: 64, bandwidth_bytes_per_cycle: 128,
       double_buffered: true}}
  dram: {{kind: lpddr5, bandwidth_gb_per_s: 51.2}}
"""


LAYERS = f"""name: t
steps: 1
layers:
  - {{name: fc, type: gemm, M: {M}, N: {N}, K: {K}}}
  - {{name: conv, type: conv, N: 1, C: 16, H: 12, W: 12, K: 24, R: 3, S: 3, padding: 1}}
  - {{name: attn, type: attention, batch: 2, Lq: 32, Lk: 32, d: 16}}
"""


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    p = tmp_path_factory.mktemp("w") / "t.layers.yaml"
    p.write_text(LAYERS)
    return load_layers_yaml(p)


def test_compute_cycles_are_scalesims_fold_count(workload: Workload) -> None:
    nest = {op.name: op for op in evaluate(workload, parse_arch(arch_text("nest"))).per_op}["fc"]
    one = {op.name: op for op in evaluate(workload, parse_arch(arch_text("one_level"))).per_op}["fc"]
    folds = -(-K // R) * -(-N // C)
    fill = 2 * R + C - 2
    assert nest.compute_cycles == folds * (2 * R + C + M - 2) == M * K * N / (R * C) + folds * fill
    changes = (one.compute_cycles - M * folds) / fill
    assert changes == int(changes) and changes >= folds and one.compute_cycles >= nest.compute_cycles
    assert nest.utilization <= 1.0
    assert nest.cycles == pytest.approx(nest.compute_cycles + sum(nest.stall_cycles.values()), rel=1e-12)


def test_energy_adds_up_and_dram_covers_the_footprint(workload: Workload) -> None:
    res = evaluate(workload, parse_arch(arch_text()))
    for op in res.per_op:
        assert sum(op.energy_breakdown_j.values()) == pytest.approx(op.energy_j, rel=1e-12)
        assert set(op.energy_breakdown_j) <= {"compute", "rf", "glb", "dram", "leakage", "vector"}
        assert op.energy_breakdown_j["leakage"] == pytest.approx(0.0, abs=1e-30) or op.latency_s > 0
    assert sum(res.energy_breakdown_j.values()) == pytest.approx(res.energy_j_per_image, rel=1e-12)
    ops = {op.name: op for op in res.per_op}
    # int8 operands, int32 accumulators, int8 outputs: DRAM moves at least A, B and C once.
    assert ops["fc"].traffic_bytes["dram"] >= M * K + K * N + M * N
    assert ops["conv"].traffic_bytes["dram"] >= 16 * 12 * 12 + 24 * 16 * 9 + 24 * 12 * 12
    assert ops["attn"].traffic_bytes["dram"] >= 2 * (3 * 32 * 16 + 32 * 16)  # Q, K, V in, O out
    assert ops["fc"].energy_breakdown_j["compute"] > 0 and ops["fc"].energy_breakdown_j["dram"] > 0
    assert ops["fc"].mapping["memory_model"] == "nest"
    assert [n["name"] for n in ops["attn"].mapping["nests"]] == ["attn.qk", "attn.pv"]
    assert res.extras["memory_model"] == "nest"
    assert not any("inter-op activation reuse" in n for n in res.notes)  # modelled (nest_homes)


def test_same_inputs_give_the_same_bytes(workload: Workload) -> None:
    a = json.dumps(design_to_json(evaluate(workload, parse_arch(arch_text()))), sort_keys=True)
    b = json.dumps(design_to_json(evaluate(workload, parse_arch(arch_text()))), sort_keys=True)
    assert a == b


def test_packed_precision_runs_in_packed_words(workload: Workload) -> None:
    packed = arch_text().replace("{int8: 1}\n  precision: int8", "{int8: 2}\n  precision: int8")
    assert packed != arch_text()
    two = evaluate(workload, parse_arch(packed))
    one = evaluate(workload, parse_arch(arch_text()))
    # two MACs per PE per cycle on the reduction: fewer cycles than one, never below half of them
    assert 0.5 * one.latency_s_per_step <= two.latency_s_per_step < one.latency_s_per_step


def test_picojoule_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nest.yaml").write_text(arch_text(dataflow="row_stationary"))
    (tmp_path / "t.layers.yaml").write_text(LAYERS)
    (tmp_path / "sc.yaml").write_text("name: nest-run\nworkload: t.layers.yaml\nsteps: 2\ndesigns: [nest.yaml]\n")
    assert main(["run", str(tmp_path / "sc.yaml"), "--out", str(tmp_path / "out")]) == 0
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    text = json.dumps(data)
    assert "memory_model nest" in text and "row_stationary" in text
    capsys.readouterr()


def test_the_spec_selects_the_fast_search(workload: Workload) -> None:
    fast_text = arch_text().replace("{memory_model: nest}", "{memory_model: nest, search: fast}")
    assert fast_text != arch_text()
    fast_arch, sampled_arch = parse_arch(fast_text), parse_arch(arch_text())
    assert new_mapper(fast_arch).strategy == "fast" and new_mapper(sampled_arch).strategy == "sampled"
    fast = evaluate(workload, fast_arch)
    sampled = evaluate(workload, sampled_arch)
    # both map every op; the strategies may pick different mappings, never ones the spec cannot hold
    assert fast.latency_s_per_step > 0 and sampled.latency_s_per_step > 0
    assert 0.5 < fast.energy_j_per_step / sampled.energy_j_per_step < 2.0
    table = prepare(workload)
    with pytest.raises(SimulationError, match=r"strategy sampled.*mapping\.search"):
        evaluate_table(table, fast_arch, mapper=new_mapper(sampled_arch))
