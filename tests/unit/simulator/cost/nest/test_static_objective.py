"""The mappers minimise the energy reported: the nest mapper's energy adds the arch's leakage and
clock per cycle (``NestArch.static_pj_per_cycle``, less the clock of the PEs a candidate leaves
idle where the design gates them: ``NestArch.idle_pe_pj_per_cycle``), the one-level mapper's its
leakage and clock (every PE)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from accelerator.spec import load_arch
from simulator.cost.hardware import hardware
from simulator.cost.mapping import score as one_level_score
from simulator.cost.nest import pool
from simulator.cost.nest.arch import from_spec
from simulator.cost.nest.counts import axis_coefs
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.problem import conv_from_input
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.search import Mapper, spatial_candidates

ROOT = Path(__file__).resolve().parents[5]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"


def test_static_energy_per_cycle_is_leakage_and_clock() -> None:
    a = load_arch(EYERISS)
    hw = hardware(a)
    assert hw.clock_pj_per_cycle is not None and hw.leakage_mw > 0
    # 200 MHz: one cycle is 5 ns; leakage mW x 5 ns = pJ
    assert hw.static_pj_per_cycle == pytest.approx(hw.leakage_mw * 5.0 + hw.clock_pj_per_cycle, rel=1e-12)
    assert from_spec(a).static_pj_per_cycle == hw.static_pj_per_cycle


def test_the_nest_mappers_energy_adds_static_energy_per_cycle() -> None:
    narch = from_spec(load_arch(EYERISS))
    quiet = replace(narch, static_pj_per_cycle=0.0)
    prob = conv_from_input("CONV5", n=4, c=192, h=13, w=13, k=128, r=3, s=3, padding=1)
    rs = PRESETS["row_stationary"]
    rows, cols = spatial_candidates(prob, narch, rs, 3)[0]
    sp = np.ones((1, len(narch.levels), 7), np.int64)
    sp[0, narch.fanout_level] = np.multiply(rows, cols)
    f = np.ones((1, len(narch.levels), 7), np.int64)
    f[0, -1] = [-(-b // s) for b, s in zip(prob.bounds, sp[0, narch.fanout_level], strict=True)]
    o = np.tile(np.arange(7), (1, len(narch.levels), 1))
    batch = pool.Batch.of(f, o, sp)
    bounds, coef = np.asarray(prob.bounds, np.int64), axis_coefs(prob.stride, prob.dilation)
    e, c = score(arch_arrays(quiet), bounds, coef, f, o, sp)
    assert np.isfinite(e[0]) and np.isfinite(c[0])
    # idle-PE gating (eyeriss.yaml): the PEs this candidate leaves uncovered save their clock part
    hw = hardware(load_arch(EYERISS))
    assert hw.clock_pj_per_cycle is not None and hw.clock_pe_gates_pj_per_cycle is not None
    idle = hw.clock_pj_per_cycle - hw.clock_pe_gates_pj_per_cycle
    assert narch.idle_pe_pj_per_cycle == pytest.approx(idle, rel=1e-12) and idle > 0
    covered = int(np.prod(sp[0]))
    assert 0 < covered < narch.rows * narch.cols  # this unrolling leaves some PEs idle
    s = narch.static_pj_per_cycle - idle * (1 - covered / (narch.rows * narch.cols))
    for objective, want in (("energy", e[0] + s * c[0]), ("edp", (e[0] + s * c[0]) * c[0])):
        got = Mapper._cost(arch_arrays(narch), bounds, coef, batch, objective)  # type: ignore[arg-type]
        assert got[0] == pytest.approx(want, rel=1e-12)
        plain = Mapper._cost(arch_arrays(quiet), bounds, coef, batch, objective)  # type: ignore[arg-type]
        assert plain[0] == pytest.approx(e[0] if objective == "energy" else e[0] * c[0], rel=1e-12)


def test_the_one_level_objective_adds_the_clock_per_cycle() -> None:
    a = load_arch(EYERISS)
    hw = hardware(a)
    cycles, energy = np.array([1000.0]), np.array([5.0e4])
    want = energy + hw.static_pj_per_cycle * cycles
    assert one_level_score(hw, "energy", cycles, energy) == pytest.approx(want, rel=1e-12)
    off = replace(hw, clock_pj_per_cycle=None)
    assert one_level_score(off, "energy", cycles, energy) == pytest.approx(energy + off.static_pj_per_cycle * cycles)


def test_a_candidate_that_does_not_cover_stays_inf_not_nan() -> None:
    narch = from_spec(load_arch(EYERISS))
    prob = conv_from_input("CONV5", n=4, c=192, h=13, w=13, k=128, r=3, s=3, padding=1)
    nlev = len(narch.levels)
    f = np.ones((1, nlev, 7), np.int64)  # every factor 1: the bounds are not covered
    o = np.tile(np.arange(7), (1, nlev, 1))
    sp = np.ones((1, nlev, 7), np.int64)
    batch = pool.Batch.of(f, o, sp)
    bounds, coef = np.asarray(prob.bounds, np.int64), axis_coefs(prob.stride, prob.dilation)
    for objective in ("energy", "edp", "latency"):
        got = Mapper._cost(arch_arrays(narch), bounds, coef, batch, objective)  # type: ignore[arg-type]
        assert np.isinf(got[0])
