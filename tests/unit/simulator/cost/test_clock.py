"""The clock network's energy (simulator.cost.clock): flop counts, the spec's override, and what the
one-level model charges (the cited per-flop energy in closed form: test_clock_parts.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from simcase import arch, gemm, one

from accelerator.spec import load_arch
from simulator.cost.clock import clock_energy, clock_pj, clocked_flops, pe_pipeline_flops
from simulator.cost.hardware import hardware
from simulator.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[4]
EYERISS = ROOT / "scenarios" / "validation" / "eyeriss.yaml"


def test_pipeline_flops_of_the_rtl_tile_pe() -> None:
    # docs/rtl.md: the synthesised PE (int8 x1, int4 x2, 32-bit accumulator) has 50 flip-flops:
    # 32 accumulator + 2 x 8 operand bits + 2 fire flags
    assert pe_pipeline_flops({"int8": 1, "int4": 2}, 32) == 50
    # one fp16 MAC, 16-bit accumulator: 16 + 2 x 16 + 1
    assert pe_pipeline_flops({"fp16": 1}, 16) == 49


def test_eyeriss_flops_count_the_register_spads() -> None:
    a = load_arch(EYERISS)
    a = a.model_copy(
        update={"clock_network": a.clock_network.model_copy(update={"storage_gating": "none", "idle_pe_gating": False})}
    )
    # ungated: 168 PEs x (49 pipeline + ifmap spad 12 x 16 b + psum spad 24 x 16 b)
    assert clocked_flops(a) == 168 * (49 + 192 + 384)


def test_the_given_flop_energy_is_used_as_given() -> None:
    a = arch(technology_nm=7, clock_network={"enabled": True, "flop_energy_fj": 3.0})
    hw = hardware(a)
    flops = 8 * 8 * 50  # simcase's 8x8 int8/int4 array, no register storage
    assert clocked_flops(a) == flops
    assert hw.clock_pj_per_cycle == pytest.approx(flops * 3.0e-3, rel=1e-12)
    cycles = np.array([[10.0, 0.0, 2.5]])
    assert np.allclose(clock_pj(hw, cycles), cycles * flops * 3.0e-3)
    assert set(clock_energy(hw, cycles)) == {"clock"}


def test_off_by_default_charges_nothing() -> None:
    a = arch()
    hw = hardware(a)
    assert hw.clock_pj_per_cycle is None
    assert clock_energy(hw, np.ones((1, 2))) == {}
    assert not np.any(clock_pj(hw, np.ones(3)))
    op = evaluate(one(gemm(64, 96, 200)), a).per_op[0]
    assert "clock" not in op.energy_breakdown_j


def test_the_one_level_model_charges_cycles_times_the_clock() -> None:
    fj = 2.0
    a = arch(clock_network={"enabled": True, "flop_energy_fj": fj})
    op = evaluate(one(gemm(64, 96, 200)), a).per_op[0]
    cycles = op.latency_s * a.clock_ghz * 1e9
    assert cycles > 0
    want_pj = cycles * 8 * 8 * 50 * fj * 1e-3
    assert op.energy_breakdown_j["clock"] * 1e12 == pytest.approx(want_pj, rel=1e-9)
    # nothing else moves: the same design without the clock costs the rest the same
    off = evaluate(one(gemm(64, 96, 200)), arch()).per_op[0]
    rest = {k: v for k, v in op.energy_breakdown_j.items() if k != "clock"}
    assert rest == pytest.approx(off.energy_breakdown_j, rel=1e-12)
    assert math.isclose(op.latency_s, off.latency_s, rel_tol=1e-12)
