"""A lowered supply on a dense GEMM, in closed form: compute energy = M·N·K × the node's cited MAC
energy × the Stillmaker & Baas 2017 polynomial ratio; DRAM energy unchanged (off-chip, not
supply-scaled); the same cycles (to 1e-6) at the lower clock; at the nominal supply given explicitly, the
result is today's bit for bit."""

from __future__ import annotations

import pytest
from simcase import arch, gemm, one

from accelerator import tech
from simulator.evaluation import evaluate

M, N, K = 64, 96, 200


def test_dense_gemm_at_a_lower_supply() -> None:
    nominal = evaluate(one(gemm(M, N, K)), arch(16, 16, technology_nm=7))
    low = evaluate(one(gemm(M, N, K)), arch(16, 16, technology_nm=7, vdd_v=0.5, clock_ghz=0.5))
    a, b = nominal.per_op[0], low.per_op[0]
    per_mac = tech.packed_mac_energy_pj("int8", 7, 32, 1, 0.5)
    assert per_mac == pytest.approx((0.2 + 0.1) * tech.node_energy_factor(7, 0.5), rel=1e-12)
    assert b.energy_breakdown_j["compute"] * 1e12 == pytest.approx(M * N * K * per_mac, rel=1e-12)
    k = (0.1776 * 0.25 - 0.09097 * 0.5 + 0.02447) / (0.1776 * 0.49 - 0.09097 * 0.7 + 0.02447)
    assert b.energy_breakdown_j["compute"] / a.energy_breakdown_j["compute"] == pytest.approx(k, rel=1e-12)
    assert b.energy_breakdown_j["dram"] == a.energy_breakdown_j["dram"]
    # memory never limits here: the same cycles (but for the DRAM latency, fewer cycles at a slower
    # clock: 1e-7 of the op), at half the clock
    assert b.cycles == pytest.approx(a.cycles, rel=1e-6)
    assert low.latency_s_per_image == pytest.approx(2.0 * nominal.latency_s_per_image, rel=1e-6)


def test_the_nominal_supply_given_explicitly_is_today_s_result() -> None:
    plain = evaluate(one(gemm(M, N, K)), arch(16, 16, technology_nm=7))
    given = evaluate(one(gemm(M, N, K)), arch(16, 16, technology_nm=7, vdd_v=0.7))
    assert given.energy_j_per_image == plain.energy_j_per_image
    assert given.energy_breakdown_j == plain.energy_breakdown_j
    assert given.latency_s_per_image == plain.latency_s_per_image
