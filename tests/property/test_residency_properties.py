"""Weight residency across steps (hypothesis): it never costs more DRAM traffic than per_op,
a resident design still reads every distinct parameter from DRAM at least once per image, and
a design that falls back reproduces per_op exactly."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelerator.spec import ArchSpec
from models.layers import GemmLayer, gemm_op
from models.workload import Workload
from simulator.evaluation import evaluate

EXAMPLES = int(os.environ.get("PJ_HYPOTHESIS_EXAMPLES", "30"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _arch(glb_bytes: int, dataflow: str, resident: bool) -> ArchSpec:
    memory: dict[str, Any] = {
        "levels": [
            {
                "name": "glb",
                "size_bytes": glb_bytes,
                "banks": 16,
                "width_bits": 256,
                "bandwidth_bytes_per_cycle": 512,
                "double_buffered": True,
            }
        ],
        "dram": {"kind": "lpddr5", "bandwidth_gb_per_s": 50.0},
    }
    if resident:
        memory["weight_residency"] = "across_steps"
    return ArchSpec.model_validate(
        {
            "name": "p",
            "clock_ghz": 1.0,
            "technology_nm": 45,
            "compute": {
                "rows": 16,
                "cols": 16,
                "dataflow": dataflow,
                "macs_per_pe_per_cycle": {"int8": 1},
                "precision": "int8",
            },
            "memory": memory,
        }
    )


@st.composite
def workloads(draw: Any) -> Workload:
    n = draw(st.integers(1, 4))
    ops = tuple(
        gemm_op(
            GemmLayer(
                type="gemm",
                name=f"g{i % draw(st.integers(1, 3))}",
                M=draw(st.integers(1, 256)),
                N=draw(st.integers(1, 256)),
                K=draw(st.integers(1, 512)),
            )
        )
        for i in range(n)
    )
    return Workload(ops=ops, steps=draw(st.integers(1, 2)))


@SETTINGS
@given(
    w=workloads(),
    glb_kib=st.sampled_from([64, 128, 256, 1024]),
    dataflow=st.sampled_from(["output_stationary", "weight_stationary", "input_stationary"]),
    steps=st.integers(1, 30),
)
def test_resident_never_moves_more_dram_bytes(w: Workload, glb_kib: int, dataflow: str, steps: int) -> None:
    per_op = evaluate(w, _arch(glb_kib << 10, dataflow, False), steps=steps)
    kept = evaluate(w, _arch(glb_kib << 10, dataflow, True), steps=steps)
    d0 = per_op.extras["traffic_bytes_per_image"]["dram"]
    d1 = kept.extras["traffic_bytes_per_image"]["dram"]
    info = kept.extras["weight_residency"]
    assert d1 <= d0 * (1 + 1e-12)
    assert kept.energy_breakdown_j["dram"] <= per_op.energy_breakdown_j["dram"] * (1 + 1e-12)
    if info["resident"]:
        assert d1 >= info["resident_bytes"] * (1 - 1e-12)
        assert info["resident_bytes"] <= info["level_bytes"]
    else:
        assert kept.energy_breakdown_j == per_op.energy_breakdown_j
        assert kept.notes and "not resident" in kept.notes[0]
