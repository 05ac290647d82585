"""Idle-PE clock gating (clock_network.idle_pe_gating) in closed form: an op covering k of P PEs is
charged k/P of the PEs' clock plus every PE's own gate; the one-level model's coverage is the rows x
columns a GEMM reaches, the nest engine's the product of a mapping's spatial factors (cycle-weighted
over an op's nests); designs without the option cost as before; a path that cannot know coverage
refuses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from simcase import arch, gemm, one

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from simulator.cost.array import IS, OS, WS, spatial_coverage
from simulator.cost.clock import (
    clock_coverage,
    clock_energy,
    clocked_flops,
    clocked_pe,
    gate_clock_fj,
    idle_gating,
    weighted_coverage,
)
from simulator.cost.hardware import hardware
from simulator.evaluation import evaluate

FJ = 2.0  # a given flop energy (fJ per flop per cycle), so the PE part is exact


def _gated(**clock: Any) -> ArchSpec:
    return arch(clock_network={"enabled": True, "flop_energy_fj": FJ, "idle_pe_gating": True, **clock})


def test_an_op_covering_k_of_p_pes_charges_k_over_p_plus_the_gates() -> None:
    hw = replace(hardware(arch()), clock_pj_per_cycle=170.0, clock_pe_gates_pj_per_cycle=2.0)
    cycles = np.array([[10.0, 4.0, 0.0]])
    cov = np.array([84 / 168, 1.0, 0.25])
    # 10 x (0.5 x 168 + 2) = 860; 4 x (168 + 2) = 680; no cycles, no clock
    assert clock_energy(hw, cycles, cov)["clock"] == pytest.approx(np.array([[860.0, 680.0, 0.0]]), rel=1e-15)
    # what a re-timing model reads back from it
    got = clock_coverage(hw, np.array([860.0, 680.0, 0.0]), np.array([10.0, 4.0, 0.0]))
    assert got == pytest.approx(np.array([0.5, 1.0, 0.0]), rel=1e-12)


def test_gating_without_coverage_is_refused_and_bad_coverage_too() -> None:
    hw = replace(hardware(arch()), clock_pj_per_cycle=1.5, clock_pe_gates_pj_per_cycle=0.5)
    with pytest.raises(SimulationError, match="idle_pe_gating needs each op's PE coverage"):
        clock_energy(hw, np.ones((1, 2)))
    with pytest.raises(SimulationError, match=r"outside \[0, 1\]"):
        clock_energy(hw, np.ones((1, 2)), np.array([0.5, 1.5]))


def test_off_charges_every_pe_whatever_the_coverage() -> None:
    hw = hardware(arch(clock_network={"enabled": True, "flop_energy_fj": FJ}))
    assert hw.clock_pe_gates_pj_per_cycle is None and not idle_gating(hw)
    cycles = np.array([[3.0, 7.0]])
    want = cycles * 8 * 8 * 50 * FJ * 1e-3  # simcase's 8x8 array, 50 pipeline flops per PE
    assert np.array_equal(clock_energy(hw, cycles, np.array([0.1, 0.2]))["clock"], clock_energy(hw, cycles)["clock"])
    assert clock_energy(hw, cycles)["clock"] == pytest.approx(want, rel=1e-12)


def test_per_cycle_parts_add_one_gate_per_pe() -> None:
    a = _gated()
    hw = hardware(a)
    per, gates = hw.clock_pj_per_cycle, hw.clock_pe_gates_pj_per_cycle
    assert per is not None and gates is not None and idle_gating(hw)
    assert clocked_pe(a).sinks == 50 and clocked_flops(a) == 64 * 51  # the PE's own gate is a sink
    assert per - gates == pytest.approx(64 * 50 * FJ * 1e-3, rel=1e-12)
    assert gates == pytest.approx(64 * gate_clock_fj(a, 64 * 51, hw.area_mm2) * 1e-3, rel=1e-12)


def test_gating_an_off_clock_network_is_refused() -> None:
    with pytest.raises(ValidationError, match="idle_pe_gating"):
        arch(clock_network={"enabled": False, "idle_pe_gating": True})


def test_spatial_coverage_in_closed_form() -> None:
    m, n, k = np.array([3.0, 64.0]), np.array([5.0, 96.0]), np.array([200.0, 6.0])
    # output-stationary: M on rows, N on columns: 3 x 5 of 8 x 8; 8 x 8 of 8 x 8
    assert spatial_coverage(OS, 8, 8, 1, m, n, k) == pytest.approx(np.array([15 / 64, 1.0]))
    # weight-stationary: K/mpc on rows, N on columns: 8 x 5 of 64, then ceil(6/2) = 3 x 8 of 64
    assert spatial_coverage(WS, 8, 8, 2, m, n, k) == pytest.approx(np.array([40 / 64, 24 / 64]))
    # input-stationary: K/mpc on rows, M on columns: 8 x 3, 6 x 8
    assert spatial_coverage(IS, 8, 8, 1, m, n, k) == pytest.approx(np.array([24 / 64, 48 / 64]))


@pytest.mark.parametrize(("m", "n", "covered"), [(3, 5, 15), (64, 96, 64), (8, 2, 16)])
def test_the_one_level_model_clocks_the_pes_a_gemm_reaches(m: int, n: int, covered: int) -> None:
    a = _gated()
    hw = hardware(a)
    per, gates = hw.clock_pj_per_cycle, hw.clock_pe_gates_pj_per_cycle
    assert per is not None and gates is not None
    op = evaluate(one(gemm(m, n, 200)), a).per_op[0]
    cycles = op.latency_s * a.clock_ghz * 1e9
    assert cycles > 0
    want = cycles * (covered / 64 * (per - gates) + gates)
    assert op.energy_breakdown_j["clock"] * 1e12 == pytest.approx(want, rel=1e-9)
    # the event fidelity re-times the op and keeps its coverage
    ev = evaluate(one(gemm(m, n, 200)), a, fidelity="event").per_op[0]
    ev_cycles = ev.latency_s * a.clock_ghz * 1e9
    want_ev = ev_cycles * (covered / 64 * (per - gates) + gates)
    assert ev.energy_breakdown_j["clock"] * 1e12 == pytest.approx(want_ev, rel=1e-9)


def test_gating_leaves_everything_but_the_clock_alone() -> None:
    on = evaluate(one(gemm(3, 5, 200)), _gated()).per_op[0]
    off = evaluate(one(gemm(3, 5, 200)), arch(clock_network={"enabled": True, "flop_energy_fj": FJ})).per_op[0]
    rest_on = {k: v for k, v in on.energy_breakdown_j.items() if k != "clock"}
    rest_off = {k: v for k, v in off.energy_breakdown_j.items() if k != "clock"}
    assert rest_on == rest_off and on.latency_s == off.latency_s
    # with the flop energy given, the PE part does not depend on the sink count: 15 of 64 PEs' share of
    # the ungated clock, plus the 64 gates every cycle
    gates = hardware(_gated()).clock_pe_gates_pj_per_cycle
    assert gates is not None
    cycles = on.latency_s * 1e9
    pe_part = on.energy_breakdown_j["clock"] * 1e12 - cycles * gates
    assert pe_part == pytest.approx(15 / 64 * off.energy_breakdown_j["clock"] * 1e12, rel=1e-9)


def test_weighted_coverage_by_op() -> None:
    # op 0: nests of 1000 cycles on 12 PEs and 3000 on 4 -> (12000 + 12000) / (16 x 4000) = 0.375;
    # op 1: none; op 2: one nest on all 16
    got = weighted_coverage(np.array([1000.0, 3000.0, 5.0]), np.array([12.0, 4.0, 16.0]), np.array([0, 0, 2]), 3, 16)
    assert got == pytest.approx(np.array([0.375, 0.0, 1.0]), rel=1e-15)


def test_the_one_level_objective_charges_what_the_result_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.cost import mapping

    hw = replace(hardware(arch()), clock_pj_per_cycle=170.0, clock_pe_gates_pj_per_cycle=2.0)
    cycles, energy = np.array([10.0, 4.0]), np.array([100.0, 50.0])
    leak = hw.leakage_mw * 1e-3 * cycles / hw.clock_hz * 1e12
    # 10 x (0.5 x 168 + 2) = 860 and 4 x (168 + 2) = 680 of clock, as clock_energy reports them
    got = mapping.score(hw, "energy", cycles, energy, np.array([0.5, 1.0]))
    assert got == pytest.approx(energy + leak + np.array([860.0, 680.0]), rel=1e-15)
    assert mapping.score(hw, "edp", cycles, energy, 0.5) == pytest.approx((energy + leak + cycles * 86.0) * cycles)
    # no coverage given: every PE clocked (the upper bound the one-level mapper used before)
    assert mapping.score(hw, "energy", cycles, energy) == pytest.approx(energy + leak + 170.0 * cycles, rel=1e-15)
    # the mapper passes each candidate's coverage: a 3 x 5 GEMM reaches 15 of the 64 PEs (OS)
    seen: list[np.ndarray] = []
    real = mapping.score

    def spy(*args: Any, **kw: Any) -> np.ndarray:
        seen.append(np.asarray(args[4] if len(args) > 4 else kw.get("coverage")))
        return real(*args, **kw)

    monkeypatch.setattr(mapping, "score", spy)
    evaluate(one(gemm(3, 5, 200)), _gated())
    gemm_calls = [c for c in seen if c.ndim == 1 and c.size > 0]
    assert gemm_calls and all(np.allclose(c, 15 / 64) for c in gemm_calls)
