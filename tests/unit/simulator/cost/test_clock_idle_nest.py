"""Idle-PE clock gating on the loop-nest engine: a nest's PE coverage is the product of its mapping's
spatial factors (a known mapping), an op's is its nests' weighted by their compute cycles, and the
columns charge ``cycles · (coverage · PE part + PE gates)``; end to end, the nest engine's and its
sparsity path's clock read back a whole number of PEs within the array."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from simcase import arch, gemm, one

from accelerator.spec import ArchSpec, load_arch, parse_arch
from models.workload import Workload
from simulator.cost.clock import clock_coverage
from simulator.cost.hardware import hardware
from simulator.cost.nest.analysis import evaluate
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import gemm as nest_gemm
from simulator.cost.nest_columns import STALLS, Nest, columns, reduce_nest
from simulator.evaluation import evaluate as evaluate_design
from simulator.optable import prepare
from simulator.validation.common import NEST_DATAFLOW, peer_path, read_json, spec_path, standalone, with_nest
from simulator.validation.eyeriss import eyeriss_workload

M_, N_, K_ = 4, 3, 5
HW = hardware(
    parse_arch(
        "name: t\nclock_ghz: 1.0\ntechnology_nm: 45\ncompute: {rows: 2, cols: 2, macs_per_pe_per_cycle: {int8: 1}, "
        "precision: int8}\nmemory:\n  levels:\n    - {name: glb, size_bytes: 65536, banks: 2, width_bits: 64, "
        "bandwidth_bytes_per_cycle: 16, double_buffered: true}\n  dram: {kind: lpddr5, bandwidth_gb_per_s: 8}\n"
    )
)
#: a PE part of 40 pJ per cycle for all 4 PEs, 4 pJ of PE gates (round numbers for the closed forms)
GATED = replace(HW, clock_pj_per_cycle=44.0, clock_pe_gates_pj_per_cycle=4.0)


def _arch() -> NestArch:
    spad = NestLevel("spad", (True, True, True), 1e6, (0.01, 0.02, 0.03), (0.015, 0.025, 0.035), 64.0)
    glb = NestLevel("glb", (True, True, True), 1e6, (0.1,) * 3, (0.12,) * 3, 16.0, double_buffered=True)
    dram = NestLevel("dram", (True, True, True), math.inf, (1.0,) * 3, (1.0,) * 3, 8.0)
    return NestArch("t", (spad, glb, dram), 2, 2, 1, (8.0, 8.0, 32.0), 8.0, 1.0, 1e9)


def _mapping(m_rows: int) -> Mapping:
    """M (the GEMM's rows, dimension P) split ``m_rows`` ways across the array's rows, the rest at the
    scratchpad; nothing across the columns."""
    ones = (1,) * 7
    spad = (1, N_, K_, M_ // m_rows, 1, 1, 1)
    ident = (0, 1, 2, 3, 4, 5, 6)
    rows = (1, 1, 1, m_rows, 1, 1, 1)
    return Mapping((spad, ones, ones), (ident, ident, ident), rows, ones)  # type: ignore[arg-type]


@pytest.mark.parametrize("m_rows", [1, 2])
def test_a_nest_covers_the_product_of_its_spatial_factors(m_rows: int) -> None:
    r = evaluate(nest_gemm("g", M_, N_, K_), _arch(), _mapping(m_rows))
    assert reduce_nest(r, HW, _arch()).pes == m_rows


def _nest(compute: float, pes: float) -> Nest:
    stalls = dict.fromkeys(STALLS, 0.0)
    return Nest(compute, compute, 0.0, stalls, {"compute": 1.0}, {"dram": 0.0}, 0.0, pes)


def test_columns_charge_the_cycle_weighted_coverage() -> None:
    table = prepare(one(gemm(M_, N_, K_)))
    # 100 compute cycles on 1 PE and 300 on 3: (100 + 900) / (4 x 400) = 0.625 of the 4 PEs
    costs = columns(table, GATED, {0: [_nest(100.0, 1.0), _nest(300.0, 3.0)]}, "energy")
    cycles = costs.cycles[0, 0]
    assert cycles == pytest.approx(400.0)
    assert costs.energy_pj["clock"][0, 0] == pytest.approx(cycles * (0.625 * 40.0 + 4.0), rel=1e-12)
    # the same nests on the ungated clock: every PE, every cycle
    plain = columns(table, replace(HW, clock_pj_per_cycle=44.0), {0: [_nest(100.0, 1.0), _nest(300.0, 3.0)]}, "energy")
    assert plain.energy_pj["clock"][0, 0] == pytest.approx(cycles * 44.0, rel=1e-12)


def _pes_read_back(a: ArchSpec, workload: Workload) -> list[float]:
    """Per op, the PEs its clock energy was charged for (:func:`clock_coverage` x PEs)."""
    hw = hardware(a)
    out = []
    for op in evaluate_design(workload, a).per_op:
        cycles = op.latency_s * a.clock_ghz * 1e9
        cov = clock_coverage(hw, np.array([op.energy_breakdown_j["clock"] * 1e12]), np.array([cycles]))[0]
        out.append(cov * hw.rows * hw.cols)
    return out


def test_the_nest_engine_clocks_whole_pes_within_the_gemm() -> None:
    a = arch(
        clock_network={"enabled": True, "flop_energy_fj": 2.0, "idle_pe_gating": True},
        mapping={"memory_model": "nest", "samples": 20},
    )
    (pes,) = _pes_read_back(a, one(gemm(3, 5, 64)))
    # one nest: a whole number of PEs, at least one, at most the 64 of the array
    assert pes == pytest.approx(round(pes), abs=1e-6)
    assert 1 <= round(pes) <= 64


def test_eyeriss_sparse_nests_clock_whole_pes() -> None:
    """The validation's Eyeriss on the nest engine (act zero gating: :mod:`simulator.cost.nest_sparsity`
    recharges the clock over its cycles) clocks a whole number of its 168 PEs per layer."""
    pub = read_json(peer_path("eyeriss/published.json"))
    base = load_arch(spec_path("eyeriss.yaml"))
    assert base.clock_network.idle_pe_gating and base.compute.sparsity.act_zero_gating
    nest = with_nest(base, NEST_DATAFLOW.get(base.name))
    # one search per layer: any mapping clocks whole PEs (the spec's 128 restarts only cost time here)
    nest = nest.model_copy(update={"mapping": nest.mapping.model_copy(update={"restarts": 1})})
    for pes in _pes_read_back(nest, standalone(eyeriss_workload(pub))):
        assert pes == pytest.approx(round(pes), abs=1e-6)
        assert 1 <= round(pes) <= 168
