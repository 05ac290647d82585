"""Tensors kept on chip on the nest path (simulator/cost/nest_homes.py): DRAM at factor 0 drops
the operand's DRAM bytes, energy and time (the analysis and the mapper's scorer alike), and the
holding level loses the kept tensor's room."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from accelerator.errors import SimulationError
from accelerator.spec import load_arch
from models.workload import Op
from simulator.cost.nest.analysis import evaluate, nest_arrays
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.mapping import Mapping, single_level
from simulator.cost.nest.presets import PRESETS, eyeriss
from simulator.cost.nest.problem import INP, OUT, WGT, conv_from_input, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.search import Mapper
from simulator.cost.nest_homes import Homes, Keep, homed, op_archs, op_problems, score_blocks

ROOT = Path(__file__).resolve().parents[5]
ONE = (1.0, 1.0, 1.0)
IDENT = (0, 1, 2, 3, 4, 5, 6)
DRAM_PJ_PER_BIT = 10.0


def _arch(glb_bytes: float = 1e9) -> NestArch:
    levels = (
        NestLevel("glb", (True, True, True), glb_bytes, ONE, ONE, 64.0),
        NestLevel("dram", (True, True, True), math.inf, (DRAM_PJ_PER_BIT,) * 3, (DRAM_PJ_PER_BIT,) * 3, 8.0),
    )
    return NestArch("t", levels, 4, 4, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)


def _glb_mapping() -> tuple[object, Mapping]:
    prob = gemm("g", 6, 4, 5)  # weights 20, inputs 30, outputs 24 words of 1 B
    return prob, Mapping((prob.bounds, (1,) * 7), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("drop", "left"),
    [((False, True, False), 20 + 24), ((False, False, True), 20 + 30), ((True, False, False), 30 + 24)],
)
def test_factor_zero_drops_the_operands_dram_bytes_energy_and_time(drop: tuple[bool, bool, bool], left: int) -> None:
    prob, m = _glb_mapping()
    plain = evaluate(prob, _arch(), m)  # type: ignore[arg-type]
    arch = homed(_arch(), drop, [])
    kept = evaluate(prob, arch, m)  # type: ignore[arg-type]
    assert plain.traffic_bytes["dram"] == 20 + 30 + 24
    assert kept.traffic_bytes["dram"] == left
    assert kept.energy_pj_by_level["dram"] == pytest.approx(DRAM_PJ_PER_BIT * 8 * left, rel=1e-12)
    # the glb still receives and serves the kept operand (its fills come from the kept copy)
    assert kept.energy_pj_by_level["glb"] == plain.energy_pj_by_level["glb"]
    assert kept.traffic_bytes["glb"] == plain.traffic_bytes["glb"]
    assert kept.transfer_cycles["dram"] == left / 8.0
    # the single-buffered glb's handover: 74 plain B at its 64 B/cycle, DRAM's side at 8 B/cycle
    assert kept.cycles == 120 + max(74 / 64, left / 8)


def test_spilled_partial_sums_of_a_kept_output_still_reach_dram() -> None:
    prob = gemm("g", 6, 4, 5)
    arch = homed(_arch(), (False, False, True), [])
    assert arch is not None
    res = evaluate(prob, arch, single_level(prob, arch))
    # 120 writes of which 24 final, 96 read-backs: only the final outputs stay on chip (weights 20,
    # inputs read once per MAC: 120)
    assert res.writes_words[-1, OUT] == 120 and res.reads_words[-1, OUT] == 96
    assert res.traffic_bytes["dram"] == 20 + 120 + (120 - 24) + 96


def test_scorer_agrees_with_the_analysis_on_a_homed_arch() -> None:
    base = eyeriss(load_arch(ROOT / "scenarios/validation/eyeriss.yaml"))
    glb = len(base.levels) - 2
    arch = homed(base, (False, True, True), [(glb, INP, 20_000.0)])
    assert arch is not None and arch.levels[glb].size_bytes == base.levels[glb].size_bytes - 20_000.0
    prob = conv_from_input("CONV3", n=4, c=256, h=13, w=13, k=384, r=3, s=3, padding=1)
    res = Mapper(seed=0, samples=200).best(prob, arch, PRESETS["row_stationary"], "edp")
    b, coef, f, o, sp, _ = nest_arrays(prob, arch, res.mapping)
    e, c = score(arch_arrays(arch), b, coef, f[None], o[None], sp[None])
    assert e[0] * prob.copies == pytest.approx(res.energy_pj, rel=1e-12)
    assert c[0] * prob.copies == pytest.approx(res.cycles, rel=1e-12)
    # DRAM moves only the weights and the spilled partial sums
    final = prob.footprint(OUT) * prob.copies
    spilled = res.writes_words[-1, OUT] - final + res.reads_words[-1, OUT]
    assert res.traffic_bytes["dram"] == pytest.approx(
        res.reads_words[-1, WGT] * base.word_bits[WGT] / 8 + spilled * base.word_bits[OUT] / 8, rel=1e-12
    )


def test_reservations_shrink_the_level_and_refuse_when_nothing_is_left() -> None:
    arch = homed(_arch(1000.0), (False, False, False), [(0, INP, 400.0), (0, OUT, 100.0)])
    assert arch is not None and arch.levels[0].size_bytes == 500.0
    assert homed(_arch(1000.0), (False, True, False), [(0, INP, 1000.0)]) is None
    assert homed(_arch(), (False, False, False), []) == _arch()  # nothing kept: the design itself


def test_dram_takes_a_zero_factor_but_no_negative_one() -> None:
    arch = homed(_arch(), (True, True, True), [])
    assert arch is not None and arch.levels[-1].compression == (0.0, 0.0, 0.0)
    dram = arch.levels[-1]
    with pytest.raises(SimulationError, match="ratio >= 0"):
        NestArch(
            "t", (arch.levels[0], NestLevel("dram", dram.holds, math.inf, ONE, ONE, 8.0, compression=(-1.0, 1.0, 1.0))),
            4, 4, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9,
        )  # fmt: skip


def test_op_archs_keep_the_scores_of_fused_attention_between_its_nests() -> None:
    op = Op(name="a", kind="attention", module="m", macs=0, gemm=(2, 32, 32, 16))
    base = _arch(4096.0)
    homes = Homes(act_level=0, out_level=0, weight_level=-1, weight_bytes=0.0)
    # a block takes at most half the level: 16 rows x 32 keys x 1 B = 512 B <= 2048 B, all 32 rows too
    assert score_blocks(op, base, homes) == [32, 16, 8, 4, 2, 1]
    assert score_blocks(op, _arch(1024.0), homes) == [16, 8, 4, 2, 1]
    nests = op_problems(op, "window", 16)
    assert [p.copies for p in nests] == [4, 4] and nests[0].bounds[3] == 16  # 2 heads x 2 blocks
    qk, pv = op_archs(base, homes, nests, Keep(scores_rows=16), False) or []
    assert qk.levels[-1].compression == (1.0, 1.0, 0.0) and pv.levels[-1].compression == (1.0, 0.0, 1.0)
    assert qk.levels[0].size_bytes == pv.levels[0].size_bytes == 4096.0 - 16 * 32
    # inputs left by the op before and an output kept for the op after take their room in every nest
    qk, pv = op_archs(base, homes, nests, Keep(res_in=True, res_out=True), False) or []
    assert qk.levels[0].size_bytes == pv.levels[0].size_bytes == 4096.0 - 4 * 16 * 16 - 4 * 16 * 16
    assert qk.levels[-1].compression == (1.0, 0.0, 1.0) and pv.levels[-1].compression == (1.0, 1.0, 0.0)
    # no level holds activations: nothing can be kept
    none = Homes(act_level=-1, out_level=0, weight_level=-1, weight_bytes=0.0)
    assert op_archs(base, none, nests, Keep(res_in=True), False) is None
    np.testing.assert_array_equal(
        [p.bounds for p in op_problems(op, "window", 0)], [(1, 32, 16, 32, 1, 1, 1), (1, 16, 32, 32, 1, 1, 1)]
    )
