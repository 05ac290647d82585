"""Weights resident across steps (``memory.weight_residency: across_steps``): closed forms.

The workload: three one-tile GEMMs (every extent within one array fold, so each weight is read
once per step, ``f_b = K·N``), the third a second call of the first module (same module path
and shape: one parameter). Per image of ``S`` steps, ``per_op`` reads ``F = Σ K·N`` weight bytes
from DRAM every step and writes them into the GLB; ``across_steps`` reads and writes the
``P`` distinct parameter bytes once (the fill). So, exactly:

    DRAM bytes(per_op) − DRAM bytes(resident)  = S·F − P
    E_dram(per_op)    − E_dram(resident)       = (S·F − P) · 8 · pJ/bit
    E_glb(per_op)     − E_glb(resident)        = (S·F − P) · write pJ / access bytes

(with ``F = P``: ``(S − 1)·P·(DRAM pJ/B + GLB write pJ/B)``; the array stream's GLB reads are
the same in both). Compute and register-file energy do not move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from simcase import arch

from accelerator.spec import ArchSpec
from models.layers import GemmLayer, gemm_op
from models.workload import Op, Workload
from simulator.cost.hardware import hardware
from simulator.evaluation import evaluate

STEPS = 25


def _gemm(name: str, m: int, n: int, k: int) -> Op:
    return gemm_op(GemmLayer(type="gemm", name=name, M=m, N=n, K=k))


def _workload() -> Workload:
    a, b = _gemm("a", 32, 32, 16), _gemm("b", 32, 16, 16)
    return Workload(ops=(a, b, a), steps=1)


def _resident(base: ArchSpec, **memory: Any) -> ArchSpec:
    data = base.model_dump()
    data["memory"].update(weight_residency="across_steps", **memory)
    return ArchSpec.model_validate(data)


def test_dram_and_energy_closed_form() -> None:
    base = arch(32, 32, "output_stationary", "int8", dram_gbps=50.0)
    res = _resident(base)
    w = _workload()
    per_op, kept = evaluate(w, base, steps=STEPS), evaluate(w, res, steps=STEPS)
    f_bytes = 32 * 16 + 16 * 16 + 32 * 16  # int8 weights, one byte each, every op
    p_bytes = 32 * 16 + 16 * 16  # the third op reuses the first's parameter
    info = kept.extras["weight_residency"]
    assert info["resident"] is True and info["level"] == "glb"
    assert info["resident_bytes"] == p_bytes
    assert kept.notes and "resident in glb" in kept.notes[0]
    for x, y in zip(per_op.per_op, kept.per_op, strict=True):
        assert (
            x.mapping["tile_mnk" if "tile_mnk" in x.mapping else "glb_tile_mnk"]
            == y.mapping["tile_mnk" if "tile_mnk" in y.mapping else "glb_tile_mnk"]
        )
    saved_b = STEPS * f_bytes - p_bytes
    t0, t1 = per_op.extras["traffic_bytes_per_image"], kept.extras["traffic_bytes_per_image"]
    assert t0["dram"] - t1["dram"] == pytest.approx(saved_b, rel=1e-12)
    hw = hardware(base)
    glb = hw.levels[0]
    e0, e1 = per_op.energy_breakdown_j, kept.energy_breakdown_j
    assert (e0["dram"] - e1["dram"]) * 1e12 == pytest.approx(saved_b * 8 * hw.dram_pj_per_bit, rel=1e-9)
    assert (e0["glb"] - e1["glb"]) * 1e12 == pytest.approx(saved_b * glb.write_pj / glb.access_bytes, rel=1e-9)
    assert e0["compute"] == e1["compute"]
    assert kept.energy_j_per_image == pytest.approx(sum(e1.values()), rel=1e-12)
    assert kept.energy_j_per_step == pytest.approx(kept.energy_j_per_image / STEPS, rel=1e-12)


def test_one_step_per_image_costs_the_fill() -> None:
    """With one step the fill replaces that step's weight reads: P instead of F DRAM bytes."""
    base = arch(32, 32, "output_stationary", "int8", dram_gbps=50.0)
    w = _workload()
    t0 = evaluate(w, base, steps=1).extras["traffic_bytes_per_image"]["dram"]
    t1 = evaluate(w, _resident(base), steps=1).extras["traffic_bytes_per_image"]["dram"]
    assert t0 - t1 == pytest.approx((32 * 16 + 16 * 16 + 32 * 16) - (32 * 16 + 16 * 16), rel=1e-12)


def test_weights_too_big_fall_back_with_a_note() -> None:
    base = arch(32, 32, "output_stationary", "int8", dram_gbps=50.0, glb_bytes=1 << 18)
    w = Workload(ops=(_gemm("big", 32, 1024, 1024),), steps=1)  # 1 MiB of int8 weights
    per_op, fell = evaluate(w, base, steps=STEPS), evaluate(w, _resident(base), steps=STEPS)
    assert fell.extras["weight_residency"]["resident"] is False
    assert "exceed glb" in fell.notes[0] and "read per op" in fell.notes[0]
    assert fell.energy_breakdown_j == per_op.energy_breakdown_j
    assert fell.latency_s_per_image == per_op.latency_s_per_image


def test_no_room_left_for_tiles_falls_back_with_a_note() -> None:
    # The smallest tile set of op a, double-buffered: 2·(32·16 + 16·32 + 32·32·4) = 10,240 B.
    # 768 B of weights fit a 10,752 B GLB, but then that tile set does not.
    base = arch(32, 32, "output_stationary", "int8", dram_gbps=50.0, glb_bytes=10_752)
    assert evaluate(_workload(), base, steps=STEPS).extras["traffic_bytes_per_image"]["dram"] > 0
    fell = evaluate(_workload(), _resident(base), steps=STEPS)
    assert fell.extras["weight_residency"]["resident"] is False
    assert "maps no tile" in fell.notes[0]


def test_per_op_designs_carry_no_residency_record() -> None:
    r = evaluate(_workload(), arch(32, 32), steps=STEPS)
    assert "weight_residency" not in r.extras and r.notes == ()


def test_decoder_is_not_resident() -> None:
    base = arch(32, 32, "output_stationary", "int8", dram_gbps=50.0)
    dec = Workload(ops=(_gemm("d", 32, 32, 16),), steps=1)
    r = evaluate(_workload(), _resident(base), steps=STEPS, decoder=dec)
    d_alone = evaluate(dec, base, steps=1)
    assert r.extras["decoder"]["energy_j"] == d_alone.energy_j_per_image


def test_event_agrees_on_compute_bound_op_with_resident_weights() -> None:
    a = _resident(arch(16, 16, "output_stationary", "int8", dram_gbps=50.0, glb_bytes=1 << 21))
    w = Workload(ops=(_gemm("g", 512, 512, 1024),), steps=1)
    an, ev = evaluate(w, a), evaluate(w, a, fidelity="event")
    assert an.extras["weight_residency"]["resident"] is True
    assert an.per_op[0].bound == "compute"
    assert ev.per_op[0].cycles == pytest.approx(an.per_op[0].cycles, rel=0.02)
    assert ev.energy_breakdown_j["dram"] == an.energy_breakdown_j["dram"]


def test_run_summary_says_where_the_weights_live(tmp_path: Path) -> None:
    """The terminal summary lists the designs' notes: resident weights, with level and size."""
    from simulator.run import run_scenario

    root = Path(__file__).parents[2] / "scenarios"
    sc = tmp_path / "s.yaml"
    sc.write_text(
        f"name: residency\nworkload: {root / 'workloads/tiny-unet.workload.json.gz'}\n"
        f"designs: [{root / 'arch/dc-os-int8-resident.yaml'}, {root / 'arch/edge-os-int8.yaml'}]\n",
        encoding="utf-8",
    )
    out = run_scenario(sc, tmp_path / "out")
    notes = out.summary.split("notes:\n", 1)[1].splitlines()
    resident = [n for n in notes if "weights resident" in n]
    assert len(resident) == 1 and resident[0].startswith("  dc-os-int8-resident: weights resident in glb")
    # the other notes are each design's loop-nest note, not residency (edge-os-int8 keeps none)
    assert all("memory_model nest" in n for n in notes if n not in resident)
