"""Closed forms for the model's depth: precision, sparsity, banks, SRAM/DRAM energy, reuse.

Each test sets up a case small enough to count by hand and asserts the count.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from simcase import arch, attention, conv, gemm, one

from accelerator import pe, tech
from models.workload import Workload
from simulator.cost.array import OS, spatial_utilization
from simulator.cost.hardware import bank_rate, dram_efficiency, hardware
from simulator.evaluation import evaluate


def test_int4_operands_run_packed_on_an_int8_array() -> None:
    m, n, k = 64, 64, 256
    int8 = arch(8, 8, "output_stationary", "int8")
    int4 = arch(
        8, 8, "output_stationary", "int8", numerics={"weights": {"format": "int4"}, "activations": {"format": "int4"}}
    )
    c8 = evaluate(one(gemm(m, n, k)), int8).per_op[0]
    c4 = evaluate(one(gemm(m, n, k)), int4).per_op[0]
    folds = 8 * 8
    assert c8.compute_cycles == folds * pe.tile_cycles(k, rows=8)
    assert c4.compute_cycles == folds * pe.tile_cycles(k // 2, "int4", rows=8)
    assert c4.mapping["precision"] == "int4"
    # DRAM bytes halve with 4-bit operands and outputs.
    assert c4.traffic_bytes["dram"] == pytest.approx(c8.traffic_bytes["dram"] / 2)


def test_gating_saves_energy_not_cycles() -> None:
    m, n, k = 64, 64, 128
    op = gemm(m, n, k)
    gate = arch(8, 8, "output_stationary", "int8", sparsity={"act_zero_gating": True})
    dense = evaluate(one(op), gate).per_op[0]
    half = evaluate(one(op, stats={"act_zero_frac": [0.5]}), gate).per_op[0]
    assert half.cycles == dense.cycles
    assert half.energy_breakdown_j["compute"] == pytest.approx(dense.energy_breakdown_j["compute"] / 2)
    assert half.gating_saved_j == pytest.approx(dense.energy_breakdown_j["compute"] / 2)
    assert half.skipped_cycles == 0.0


def test_block_skip_saves_whole_beats_only() -> None:
    # OS 8x8, blocks of 8 rows x 8 reduction elements: a beat (8 rows x 1) lies in one block
    # column, so a beat is skippable with the block's zero probability.
    m, n, k = 64, 64, 128
    a = arch(8, 8, "output_stationary", "int8", sparsity={"block_skip": [8, 8]})
    d = evaluate(one(gemm(m, n, k), stats={"act_block_zero_frac_8x8": [0.5]}), a).per_op[0]
    folds = 8 * 8
    assert d.skipped_cycles == folds * k * 0.5
    assert d.compute_cycles == folds * pe.tile_cycles(k, rows=8) - folds * k * 0.5
    # 1x16 blocks under a beat of 8 rows: all 8 rows' blocks must be zero (independence).
    a16 = arch(8, 8, "output_stationary", "int8", sparsity={"block_skip": [1, 16]})
    d16 = evaluate(one(gemm(m, n, k), stats={"act_block_zero_frac_1x16": [0.5]}), a16).per_op[0]
    assert d16.skipped_cycles == pytest.approx(folds * k * 0.5**8)
    # Weight-stationary 16x16, 1x8 blocks: a streamed vector (1 x 16) covers two blocks.
    ws = arch(16, 16, "weight_stationary", "fp16", sparsity={"block_skip": [1, 8]})
    dws = evaluate(one(gemm(m, n, k), stats={"act_block_zero_frac_1x8": [0.5]}), ws).per_op[0]
    assert dws.skipped_cycles == pytest.approx((k // 16) * (n // 16) * m * 0.25)
    assert dws.sparsity["metadata_bytes"] > 0


def test_temporal_delta_skips_zero_delta_vectors_and_pays_its_traffic() -> None:
    m, n, k = 64, 64, 128
    a = arch(8, 8, "output_stationary", "int8", sparsity={"temporal_delta": True})
    w = Workload(ops=(gemm(m, n, k),), steps=2, stats={"delta_int8_zero_frac": ((None,), (1.0,))})
    d = evaluate(w, a)
    op = d.per_op[0]
    folds = 8 * 8
    dense = folds * pe.tile_cycles(k, rows=8)
    # Step 1: every delta vector is zero and skipped; the stored output is preloaded.
    delta = folds * pe.tile_cycles(k, "int8_delta", k, rows=8, preload=True)
    assert op.compute_cycles == pytest.approx((dense + delta) / 2)
    assert op.sparsity["delta_step_fraction"] == 0.5
    # Extra DRAM: previous input (M*K int8) + previous output in and new state out (M*N int32).
    assert op.sparsity["delta_extra_bytes"] == pytest.approx((m * k + 2 * m * n * 4) / 2)
    assert d.per_step[1]["energy_j"] < d.per_step[0]["energy_j"]


def test_bank_conflicts() -> None:
    level = hardware(arch(8, 8, glb_bw=4096)).levels[0]
    assert level.banks == 256
    # 4 accesses per cycle on 16 banks at random: 16 (1 - (15/16)^4) distinct banks served;
    # 2.5 per cycle: half the cycles carry 2, half 3; below one per cycle nothing collides.
    lv16 = type(level)(**{**level.__dict__, "banks": 16})
    rate = bank_rate(np.array([4.0]), np.array([1.0]), lv16)[0]
    assert rate == pytest.approx(16 * (1 - (15 / 16) ** 4))
    mixed = bank_rate(np.array([2.5]), np.array([1.0]), lv16)[0]
    assert mixed == pytest.approx(0.5 * 16 * (1 - (15 / 16) ** 2) + 0.5 * 16 * (1 - (15 / 16) ** 3))
    assert bank_rate(np.array([0.7]), np.array([1.0]), lv16)[0] == pytest.approx(0.7)
    lv1 = type(level)(**{**level.__dict__, "banks": 1})
    assert bank_rate(np.array([4.0]), np.array([1.0]), lv1)[0] == 1.0
    # The OS array streams ~2 accesses of 8 B per cycle. Two banks serve 2(1 - 1/4) = 1.5 of
    # them per cycle on average; 64 banks (same 16 B/cycle peak) rarely collide.
    op = gemm(256, 256, 256)

    def design(banks: int):
        a = arch(8, 8, glb_bw=16)
        lv = a.memory.levels[0].model_copy(update={"banks": banks, "width_bits": 64})
        return a.model_copy(update={"memory": a.memory.model_copy(update={"levels": (lv,)})})

    few = evaluate(one(op), design(2)).per_op[0]
    many = evaluate(one(op), design(64)).per_op[0]
    assert few.stall_cycles["sram"] > 0.2 * few.compute_cycles
    assert 0 < many.stall_cycles["sram"] < 0.05 * many.compute_cycles


def test_sram_energy_is_one_bank_plus_the_wire() -> None:
    a = arch(8, 8, glb_bytes=1 << 20)
    lv = hardware(a).levels[0]
    bank = (1 << 20) / 256
    wire = 512 * tech.wire_energy_pj_per_bit_mm() * 0.5 * math.sqrt(tech.sram_area_mm2(1 << 20, 45))
    assert lv.read_pj == pytest.approx(tech.sram_access_energy_pj(int(bank), 512, 45) + wire)
    # 10 pJ * sqrt(4 KiB / 8 KiB) * 512/64 for the bank at 45 nm.
    assert tech.sram_access_energy_pj(4096, 512, 45) == pytest.approx(10 * math.sqrt(0.5) * 8)


def test_dram_efficiency_and_kinds() -> None:
    hw = hardware(arch(8, 8))  # HBM3: 32 B bursts, 1 KiB pages, row miss ~ 179 B
    p = 179.0
    expect = (64 / (64 + p)) / (1024 / (1024 + p))
    assert dram_efficiency(np.array([64.0]), hw)[0] == pytest.approx(expect)
    assert dram_efficiency(np.array([48.0]), hw)[0] == pytest.approx(48 / 64 * (48 / (48 + p)) / (1024 / (1024 + p)))
    assert dram_efficiency(np.array([1 << 20]), hw)[0] == 1.0
    w = one(gemm(64, 64, 64))
    hbm = evaluate(w, arch(8, 8)).per_op[0]
    lp = arch(8, 8)
    lp = lp.model_copy(
        update={"memory": lp.memory.model_copy(update={"dram": lp.memory.dram.model_copy(update={"kind": "lpddr5"})})}
    )
    lpd = evaluate(w, lp).per_op[0]
    assert lpd.energy_breakdown_j["dram"] / hbm.energy_breakdown_j["dram"] == pytest.approx(
        tech.dram_energy_pj_per_bit("lpddr5") / tech.dram_energy_pj_per_bit("hbm3")
    )


def test_chained_activation_stays_on_chip_when_it_fits() -> None:
    c1 = conv(16, 16, 16, 32)
    c2 = conv(32, 16, 16, 32)
    w = Workload(ops=(c1, c2), steps=1)
    big = evaluate(w, arch(8, 8, glb_bytes=1 << 20)).per_op
    assert big[0].mapping["output_kept"] and big[1].mapping["input_resident"]
    assert big[0].traffic_bytes["dram"] == 16 * 16 * 16 + 32 * 16 * 9
    assert big[1].traffic_bytes["dram"] == 32 * 32 * 9 + 32 * 16 * 16
    small = evaluate(w, arch(8, 8, glb_bytes=4096)).per_op
    assert not small[1].mapping["input_resident"]
    assert small[1].traffic_bytes["dram"] >= 32 * 32 * 9 + 2 * 32 * 16 * 16


@pytest.mark.parametrize("fused", [True, False])
def test_attention_scores_stay_on_chip_only_when_fused(fused: bool) -> None:
    b, lq, lk, d = 2, 64, 48, 16
    a = arch(8, 8, compute_extra={"fused_attention": fused})
    op = evaluate(one(attention(b, lq, lk, d)), a).per_op[0]
    base = b * (2 * lq * d + 2 * lk * d)
    scores = b * lq * lk
    assert op.traffic_bytes["dram"] == (base if fused else base + 4 * scores)
    assert op.mapping["fused_attention"] is fused


def test_per_image_totals_and_the_decoder() -> None:
    w = one(gemm(64, 64, 64))
    a = arch(8, 8)
    step = evaluate(w, a)
    img = evaluate(w, a, steps=50)
    assert img.energy_j_per_image == pytest.approx(50 * step.energy_j_per_image)
    assert img.latency_s_per_image == pytest.approx(50 * step.latency_s_per_image)
    dec = evaluate(one(conv(4, 8, 8, 16)), a)
    both = evaluate(w, a, steps=50, decoder=one(conv(4, 8, 8, 16)))
    assert both.energy_j_per_image == pytest.approx(img.energy_j_per_image + dec.energy_j_per_image)
    assert both.extras["decoder"]["energy_j"] == pytest.approx(dec.energy_j_per_image)
    assert both.energy_j_per_step == pytest.approx(img.energy_j_per_step)


def test_edge_tile_utilization() -> None:
    u = spatial_utilization(OS, 8, 8, 1, np.array([10.0]), np.array([10.0]), np.array([5.0]))
    assert u[0] == pytest.approx(100 / (16 * 16))
    op = evaluate(one(gemm(10, 10, 64)), arch(8, 8)).per_op[0]
    assert op.mapping["gemms"][0]["spatial_utilization"] == pytest.approx(100 / 256)
