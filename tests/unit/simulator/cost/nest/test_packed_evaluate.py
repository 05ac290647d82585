"""Packed precision through ``simulator.cost.nest_costs.evaluate_table``: a design whose run
precision does several MACs per PE per cycle (``macs_per_pe_per_cycle``) maps its nests in packed
words (``simulator.cost.nest.arch``), and zero gating stays consistent with what it reports.

A GEMM ``A[64×48]·B[48×32]`` and a convolution with 3 input channels (its reduction not a
multiple of the lanes) from a layer list; the committed quality-int4 and edge-os-int8 designs
switched to ``memory_model: nest``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from accelerator.files import packaged_scenario
from accelerator.spec import ArchSpec, parse_arch
from models.layers import load_layers_yaml
from models.workload import Workload
from simulator.cost import nest_costs
from simulator.cost.hardware import hardware
from simulator.cost.nest.arch import from_spec
from simulator.optable import OpTable, prepare

M, N, K = 64, 32, 48


def arch_text(mpc: int, sparsity: str = "") -> str:
    return f"""name: packed{mpc}
clock_ghz: 1.0
technology_nm: 7
mapping: {{memory_model: nest}}
compute:
  rows: 8
  cols: 8
  dataflow: output_stationary
  macs_per_pe_per_cycle: {{int8: 1, int4: {mpc}}}
  precision: int4
  sparsity: {{{sparsity}}}
memory:
  levels:
    - {{name: rf, size_bytes: 64, per_pe: true, width_bits: 8, bandwidth_bytes_per_cycle: 4}}
    - {{name: glb, size_bytes: 262144, banks: 16, width_bits: 128, bandwidth_bytes_per_cycle: 256,
       double_buffered: true}}
  dram: {{kind: lpddr5, bandwidth_gb_per_s: 51.2}}
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    p = tmp_path_factory.mktemp("w") / "g.layers.yaml"
    p.write_text(
        "name: g\nsteps: 2\nlayers:\n"
        f"  - {{name: fc, type: gemm, M: {M}, N: {N}, K: {K}}}\n"
        "  - {name: rgb, type: conv, C: 3, K: 16, H: 16, W: 16, R: 3, S: 3, padding: 1}\n"
    )
    return load_layers_yaml(p)


def _table(w: Workload, **stats: float) -> OpTable:
    return prepare(replace(w, stats={k: ((v,) * len(w.ops),) * w.steps for k, v in stats.items()}))


def test_from_spec_packs_the_weights_and_inputs_of_quality_int4() -> None:
    arch = _nest(packaged_scenario("arch/quality-int4.yaml"))
    hw = hardware(arch)
    narch = from_spec(arch)
    assert (hw.precision, hw.mpc, narch.lanes) == ("int4", 2, 2)
    assert narch.word_bits == (8.0, 8.0, float(hw.p_bits))  # two int4 values per word
    assert narch.mac_pj == hw.mac_pj  # the packed per-MAC energy (tech.packed_mac_energy_pj)
    one = from_spec(_nest(packaged_scenario("arch/edge-os-int8.yaml")))
    assert one.lanes == 1 and one.word_bits[:2] == (8.0, 8.0)


def test_two_lanes_halve_the_beats_of_the_gemm_and_keep_its_macs(work: Workload) -> None:
    table = _table(work)
    one = nest_costs.evaluate_table(table, parse_arch(arch_text(1)))
    two = nest_costs.evaluate_table(table, parse_arch(arch_text(2)))
    gemm = two.mapping[0]
    assert gemm["macs_per_pe_per_cycle"] == 2
    (nest,) = gemm["nests"]
    assert nest["c_values"] == K and nest["bounds"]["C"] == K // 2
    assert "macs_per_pe_per_cycle" not in one.mapping[0]  # unpacked: the report as before
    assert (two.costs.compute_cycles[:, 0] < one.costs.compute_cycles[:, 0]).all()
    assert (two.costs.cycles < one.costs.cycles).all()
    # the MAC energy is the ops' MACs at the packed per-MAC energy (K a multiple of 2: no padding)
    np.testing.assert_allclose(two.costs.energy_pj["compute"][:, 0], M * N * K * two.costs.hw.mac_pj, rtol=1e-12)
    # the conv's C = 3 pads its second word: 4 slots for 3 values, said in the notes
    conv_macs = 16 * 16 * 16 * 9 * 4
    np.testing.assert_allclose(two.costs.energy_pj["compute"][:, 1], conv_macs * two.costs.hw.mac_pj, rtol=1e-12)
    assert two.mapping[1]["nests"][0]["c_values"] == 3 and two.mapping[1]["nests"][0]["bounds"]["C"] == 2
    assert any("packed precision" in n and "rgb" in n and "not a multiple of 2" in n for n in two.notes)
    assert not any("packed precision" in n for n in one.notes)


def test_gating_on_a_packed_design_saves_exactly_what_it_reports(work: Workload) -> None:
    table = _table(work, act_zero_frac=0.5)
    dense = nest_costs.evaluate_table(table, parse_arch(arch_text(2)))
    gated = nest_costs.evaluate_table(table, parse_arch(arch_text(2, "act_zero_gating: true")))
    np.testing.assert_array_equal(gated.costs.cycles, dense.costs.cycles)  # energy only
    drop = sum(dense.costs.energy_pj.values()) - sum(gated.costs.energy_pj.values())
    np.testing.assert_allclose(drop, gated.costs.gating_saved_pj, rtol=1e-9)
    # per MAC, half the GEMM's MACs are gated; a packed word's register access only when both are
    mac_saved = 0.5 * M * N * K * gated.costs.hw.mac_pj
    assert (gated.costs.gating_saved_pj[:, 0] > mac_saved * (1 + 1e-9)).all()


def _nest(path: Path) -> ArchSpec:
    text = "".join(x for x in path.read_text().splitlines(keepends=True) if not x.startswith("mapping:"))
    return parse_arch("mapping: {memory_model: nest, seed: 0}\n" + text)  # the sampled search, as measured


def test_quality_int4_on_the_nest_runs_faster_than_the_int8_design(work: Workload) -> None:
    table = _table(work)
    int4 = nest_costs.evaluate_table(table, _nest(packaged_scenario("arch/quality-int4.yaml")))
    int8 = nest_costs.evaluate_table(table, _nest(packaged_scenario("arch/edge-os-int8.yaml")))
    assert int4.costs.cycles.sum() < int8.costs.cycles.sum()
    assert int4.mapping[0]["nests"][0]["bounds"]["C"] == K // 2
    assert int8.mapping[0]["nests"][0]["bounds"]["C"] == K
