"""Sparsity on the nest path through ``simulator.cost.nest_costs.evaluate_table``: what the
columns report against the one-level model's probabilities (``simulator.cost.sparsity``) and the
dense nests' own counts.

One GEMM ``A[64×48]·B[48×32]`` (int8, int32 accumulators) on an 8×8 weight-stationary array with
a per-PE scratchpad split per operand, a double-buffered GLB and DRAM. The statistics are set by
hand, the same on every step.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accelerator.spec import parse_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost import analytic, nest_costs
from simulator.cost.hardware import hardware
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.problem import INP
from simulator.cost.sparsity import sparse_state
from simulator.optable import OpTable, prepare

M, N, K = 64, 32, 48


def arch_text(sparsity: str = "", mac_pj: float | None = None) -> str:
    mac = f"  mac_energy_pj: {{int8: {mac_pj}}}\n" if mac_pj is not None else ""
    return f"""name: sp
clock_ghz: 1.0
technology_nm: 45
mapping: {{memory_model: nest}}
compute:
  rows: 8
  cols: 8
  dataflow: weight_stationary
  macs_per_pe_per_cycle: {{int8: 1}}
  precision: int8
  sparsity: {{{sparsity}}}
{mac}memory:
  levels:
    - name: spad
      size_bytes: 96
      per_pe: true
      width_bits: 8
      bandwidth_bytes_per_cycle: 8
      partitions: {{weight: {{size_bytes: 32}}, act: {{size_bytes: 32}}, out: {{size_bytes: 32}}}}
    - {{name: glb, size_bytes: 1048576, banks: 16, width_bits: 64, bandwidth_bytes_per_cycle: 128,
       double_buffered: true}}
  dram: {{kind: lpddr5, bandwidth_gb_per_s: 51.2}}
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    p = tmp_path_factory.mktemp("w") / "g.layers.yaml"
    p.write_text(f"name: g\nsteps: 2\nlayers:\n  - {{name: fc, type: gemm, M: {M}, N: {N}, K: {K}}}\n")
    return load_layers_yaml(p)


def _table(w: Workload, **stats: float) -> OpTable:
    return prepare(replace(w, stats={k: ((v,),) * w.steps for k, v in stats.items()}))


def _run(table: OpTable, text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[nest_costs.NestCosts, list[NestResult]]:
    """The costs and the op's dense nests (caught on their way to ``nest_sparsity.apply``)."""
    seen: dict[int, list[NestResult]] = {}
    real = nest_costs.nest_sparsity.apply

    def spy(table, hw, costs, results, narch, *args, **kw):  # type: ignore[no-untyped-def]
        seen.update(results)
        return real(table, hw, costs, results, narch, *args, **kw)

    monkeypatch.setattr(nest_costs.nest_sparsity, "apply", spy)
    return nest_costs.evaluate_table(table, parse_arch(text)), seen[0]


def _invariants(c: nest_costs.NestCosts) -> None:
    costs = c.costs
    waiting = sum(costs.stalls.values())
    np.testing.assert_allclose(costs.compute_cycles + waiting, costs.cycles, rtol=1e-12)
    assert all((v >= -1e-9).all() for v in costs.energy_pj.values())
    np.testing.assert_allclose(costs.latency_s, costs.cycles / costs.hw.clock_hz, rtol=1e-12)


def test_gating_saves_exactly_what_it_reports(base: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(base, act_zero_frac=0.6)
    dense, _ = _run(table, arch_text(), monkeypatch)
    gated, r = _run(table, arch_text("act_zero_gating: true"), monkeypatch)
    _invariants(gated)
    np.testing.assert_array_equal(gated.costs.cycles, dense.costs.cycles)  # energy only
    drop = sum(dense.costs.energy_pj.values()) - sum(gated.costs.energy_pj.values())
    np.testing.assert_allclose(drop, gated.costs.gating_saved_pj, rtol=1e-9)
    mac_only = 0.6 * M * N * K * hardware(parse_arch(arch_text())).mac_pj
    assert (gated.costs.gating_saved_pj[:, 0] > mac_only * (1 + 1e-6)).all()  # the spad's reads too
    assert (gated.costs.energy_pj["rf"] < dense.costs.energy_pj["rf"]).all()
    # modelled: the only note naming zero gating is the mapper's (it maps the dense nest)
    assert all("zero gating" not in n or "ranks mappings on the dense nest" in n for n in gated.notes)


def test_gating_without_zeros_changes_nothing(base: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(base, act_zero_frac=0.0)
    dense, _ = _run(table, arch_text(), monkeypatch)
    gated, _ = _run(table, arch_text("act_zero_gating: true, weight_zero_gating: true"), monkeypatch)
    for k, v in dense.costs.energy_pj.items():
        np.testing.assert_array_equal(gated.costs.energy_pj[k], v)
    assert not gated.costs.gating_saved_pj.any()


def test_block_skip_is_the_one_level_fraction_of_the_nest_cycles(
    base: Workload, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WS unit: one row of R = 8 reduction elements; under 1×8 masks its region is one 1×8 block
    zb = 0.3
    table = _table(base, act_block_zero_frac_1x8=zb)
    text = arch_text("block_skip: [1, 8]")
    dense, r = _run(table, arch_text(), monkeypatch)
    skip, _ = _run(table, text, monkeypatch)
    frac = sparse_state(table, hardware(parse_arch(text))).skip
    assert frac[0, 0] == pytest.approx(zb, rel=1e-12)
    mac_cycles = sum(x.compute_cycles - x.fill_cycles for x in r)
    np.testing.assert_allclose(skip.costs.skipped_cycles[:, 0], frac[:, 0] * mac_cycles, rtol=1e-12)
    np.testing.assert_allclose(
        skip.costs.compute_cycles[:, 0], dense.costs.compute_cycles[:, 0] - zb * mac_cycles, rtol=1e-12
    )
    assert (skip.costs.skipped_pj[:, 0] > zb * M * N * K * skip.costs.hw.mac_pj).all()
    # one mask bit per 1×8 block beside every kept input element the GLB streams to the array
    streamed = sum(x.reads_words[1, INP] for x in r)
    np.testing.assert_allclose(skip.costs.meta_bytes[:, 0], streamed * (1 - zb) / 8 / 8, rtol=1e-12)
    _invariants(skip)
    assert any("block skipping" in n for n in skip.notes)


def test_compaction_scales_the_dram_activations(base: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    zb = 0.5
    table = _table(base, act_block_zero_frac_1x8=zb)
    plain, r = _run(table, arch_text("block_skip: [1, 8]"), monkeypatch)
    packed, _ = _run(table, arch_text("block_skip: [1, 8], compact_activations: true"), monkeypatch)
    in_words = sum(x.reads_words[-1, INP] for x in r)  # int8: one byte each
    masks = in_words / 8 / 8  # one bit per 1×8 block
    drop = plain.costs.traffic_bytes["dram"][:, 0] - packed.costs.traffic_bytes["dram"][:, 0]
    np.testing.assert_allclose(drop, in_words * zb - masks, rtol=1e-12)
    assert (packed.costs.energy_pj["dram"] < plain.costs.energy_pj["dram"]).all()
    _invariants(packed)
    assert any("chosen on dense activation bytes" in n for n in packed.notes)


def test_delta_runs_from_the_second_step_where_it_pays(base: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(base, delta_int8_zero_frac=0.95, act_zero_frac=0.0)
    # MACs dear enough (100 pJ) that skipping 95 % zero deltas pays for the previous input and state
    text = arch_text("act_zero_gating: true, temporal_delta: true", mac_pj=100.0)
    res, r = _run(table, text, monkeypatch)
    costs = res.costs
    assert costs.delta_used[:, 0].tolist() == [False, True]  # no previous step at step 0
    prev_in = sum(x.reads_words[-1, INP] for x in r)  # int8 input, read as DRAM reads the input
    state = M * N * 4  # int32 accumulators: previous outputs in, new state out
    assert costs.delta_extra_bytes[:, 0].tolist() == pytest.approx([0.0, prev_in + 2 * state], rel=1e-12)
    step0, step1 = (sum(v[s, 0] for k, v in costs.energy_pj.items()) for s in (0, 1))
    assert step1 < step0  # the same step, delta mode cheaper
    assert costs.skipped_cycles[1, 0] > 0 and costs.skipped_cycles[0, 0] == 0
    _invariants(res)
    # deltas that seldom vanish do not pay: dense on every step
    dense, _ = _run(_table(base, delta_int8_zero_frac=0.0), text, monkeypatch)
    assert not dense.costs.delta_used.any()


def test_one_level_and_nest_agree_on_what_runs_in_delta_mode(base: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(base, delta_int8_zero_frac=0.95)
    text = arch_text("temporal_delta: true", mac_pj=100.0)
    nest, _ = _run(table, text, monkeypatch)
    one_level = analytic.evaluate_table(
        table, parse_arch(text.replace("memory_model: nest", "memory_model: one_level"))
    )
    assert nest.costs.delta_used[:, 0].tolist() == [False, True]
    np.testing.assert_array_equal(nest.costs.delta_used, one_level.delta_used)
