"""Zero gating on the nest path of a design with no per-PE level (nothing per PE to gate but the
MAC): it used to fail with an IndexError in the per-level sum of gated reads."""

from __future__ import annotations

import pytest
from simcase import arch, gemm, one

from simulator.evaluation import evaluate


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
def test_half_the_activations_zero_gates_half_the_mac_energy(dataflow: str) -> None:
    a = arch(dataflow=dataflow, sparsity={"act_zero_gating": True}, mapping={"memory_model": "nest", "samples": 20})
    half = evaluate(one(gemm(3, 5, 64), stats={"act_zero_frac": [0.5]}), a)
    dense = evaluate(one(gemm(3, 5, 64), stats={"act_zero_frac": [0.0]}), a)
    assert half.energy_breakdown_j["compute"] == pytest.approx(0.5 * dense.energy_breakdown_j["compute"], rel=1e-12)
    assert half.latency_s_per_step == dense.latency_s_per_step  # gating saves energy, not cycles
