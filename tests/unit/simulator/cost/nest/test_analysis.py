"""Closed-form counts, cycles and validation errors of the nest model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from accelerator.errors import SimulationError
from accelerator.spec import load_arch
from simulator.cost.nest.analysis import evaluate
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.mapping import Mapping, single_level
from simulator.cost.nest.presets import eyeriss, zigzag_tpu_like
from simulator.cost.nest.problem import INP, OUT, WGT, conv, conv_from_input, gemm

ROOT = Path(__file__).resolve().parents[5]
ONE = (1.0, 1.0, 1.0)
IDENT = (0, 1, 2, 3, 4, 5, 6)


def _arch(*, glb_bytes: float = 1e9, double_buffered: bool = False) -> NestArch:
    levels = (
        NestLevel("glb", (True, True, True), glb_bytes, ONE, ONE, 64.0, double_buffered=double_buffered),
        NestLevel("dram", (True, True, True), math.inf, (10.0,) * 3, (10.0,) * 3, 8.0),
    )
    return NestArch("t", levels, 4, 4, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)


def test_everything_at_dram_reads_every_operand_per_mac() -> None:
    prob = gemm("g", 6, 4, 5)  # P = 6, K = 4, C = 5
    res = evaluate(prob, _arch(), single_level(prob, _arch()))
    # order N K C P Q R S: P innermost -> weights stay in the register for 6 MACs; inputs and
    # outputs change every MAC; outputs are revisited per C step (read back after the first)
    assert res.reads_words[-1, WGT] == 4 * 5
    assert res.reads_words[-1, INP] == 6 * 4 * 5
    assert res.writes_words[-1, OUT] == 6 * 4 * 5
    assert res.reads_words[-1, OUT] == 6 * 4 * 5 - 6 * 4
    assert res.compute_cycles == 6 * 4 * 5


def test_tiles_in_the_buffer_read_dram_once() -> None:
    prob = gemm("g", 6, 4, 5)
    f = (prob.bounds, (1,) * 7)
    m = Mapping(f, (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    res = evaluate(prob, _arch(), m)
    np.testing.assert_array_equal(res.reads_words[-1], [20, 30, 0])
    np.testing.assert_array_equal(res.writes_words[-1], [0, 0, 24])
    # DRAM time 74 B / 8 B per cycle is below compute (120): a single buffer adds its fills and
    # drains (74 B at the slower bandwidth, DRAM's 8 B/cycle); a double buffer streams its tile in
    # sub-tiles and exposes one iteration of its loops: one word of each operand (3 B)
    assert res.cycles == 120 + 74 / 8
    assert evaluate(prob, _arch(double_buffered=True), m).cycles == 120 + 3 / 8


def test_sliding_window_reads_each_input_row_once() -> None:
    prob = conv("c", n=1, k=1, c=1, p=8, q=1, r=3, s=1)  # a 1-D 3-tap convolution, H = 10
    # the buffer holds 2 output rows and the filter; P steps of 2 above it slide the window
    f = ((1, 1, 1, 2, 1, 3, 1), (1, 1, 1, 4, 1, 1, 1))
    m = Mapping(f, (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    res = evaluate(prob, _arch(), m)
    assert res.reads_words[-1, INP] == prob.footprint(INP) == 10


def test_spatial_multicast_and_reduction() -> None:
    prob = gemm("g", 1, 4, 4)  # K = 4 outputs, C = 4 reduction
    m = Mapping(((1,) * 7, (1,) * 7), (IDENT, IDENT), (1, 1, 4, 1, 1, 1, 1), (1, 4, 1, 1, 1, 1, 1))
    res = evaluate(prob, _arch(), m)
    # the glb sends each input once to the 4 columns and writes each output once (rows reduce)
    assert res.reads_words[0, INP] == 4
    assert res.reads_words[0, WGT] == 16
    assert res.writes_words[0, OUT] == 4
    assert res.compute_cycles == 1


def test_invalid_mappings_name_the_reason() -> None:
    prob = gemm("g", 6, 4, 5)
    bad = Mapping(((1,) * 7, (1, 4, 5, 3, 1, 1, 1)), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match=r"P: loops \[3\] \(outermost first\) do not cover 6"):
        evaluate(prob, _arch(), bad)
    full = Mapping((prob.bounds, (1,) * 7), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="glb: tiles"):
        evaluate(prob, _arch(glb_bytes=60), full)
    wide = Mapping(((1,) * 7, (1, 1, 5, 1, 1, 1, 1)), (IDENT, IDENT), (1, 4, 1, 1, 1, 1, 1), (1, 1, 1, 6, 1, 1, 1))
    with pytest.raises(SimulationError, match="spatial 4x6 exceeds the 4x4 array"):
        evaluate(gemm("g", 6, 4, 5), _arch(), wide)


def test_validation_designs_build_from_the_specs() -> None:
    ey = eyeriss(load_arch(ROOT / "scenarios/validation/eyeriss.yaml"))
    assert [lv.name for lv in ey.levels] == ["spad", "glb", "dram"]
    assert ey.levels[0].operand_bytes == (448, 24, 48)
    assert (ey.rows, ey.cols, ey.fanout_level) == (12, 14, 1)
    zz = zigzag_tpu_like(load_arch(ROOT / "scenarios/validation/zigzag-tpu-like.yaml"))
    assert zz.levels[0].holds == (True, False, True)
    assert zz.levels[1].holds == (False, True, True)
    # ZigZag's r_cost is per access of its port's widest transfer, 2048 bits (_calc_memory_access)
    assert zz.levels[1].read_pj_per_bit[0] == pytest.approx(416.16 / 2048)
    prob = conv_from_input("c", n=1, k=8, c=3, h=7, w=7, r=3, s=3, padding=1)
    assert prob.bounds == (1, 8, 3, 7, 7, 3, 3)


def test_imperfect_spatial_factor_runs_a_partial_last_iteration() -> None:
    prob = gemm("g", 7, 1, 1)  # P = 7 on 4 columns: 2 iterations, the last uses 3 columns
    m = Mapping(((1,) * 7, (1, 1, 1, 2, 1, 1, 1)), (IDENT, IDENT), (1,) * 7, (1, 1, 1, 4, 1, 1, 1))  # type: ignore[arg-type]
    res = evaluate(prob, _arch(), m)
    assert res.compute_cycles == 2
    assert res.reads_words[-1, INP] == 7
    assert res.writes_words[-1, OUT] == 7
    # the remainder runs as its own nest: the weight (irrelevant to P) is fetched once per pass
    assert res.reads_words[-1, WGT] == 2
    assert res.utilization == pytest.approx(7 / (16 * res.cycles))


def test_imperfect_reduction_reads_back_the_main_pass_partial_sums() -> None:
    prob = gemm("g", 1, 1, 5)  # C = 5: DRAM C3 over the buffer's C2, the last DRAM step has C1
    m = Mapping(((1, 1, 2, 1, 1, 1, 1), (1, 1, 3, 1, 1, 1, 1)), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    res = evaluate(prob, _arch(), m)
    assert res.compute_cycles == 5
    assert res.reads_words[-1, WGT] == res.reads_words[-1, INP] == 5
    # main pass: the output stays in the buffer over C4 and drains once; the remainder reads it
    # back, adds the last product and writes it again
    assert res.writes_words[-1, OUT] == 2
    assert res.reads_words[-1, OUT] == 1


def test_an_outermost_loop_must_be_the_ceiling() -> None:
    prob = gemm("g", 1, 1, 5)
    m = Mapping(((1, 1, 2, 1, 1, 1, 1), (1, 1, 4, 1, 1, 1, 1)), (IDENT, IDENT), (1,) * 7, (1,) * 7)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match=r"C: loops \[4, 2\] .* must be ceil\(5/2\) = 3"):
        evaluate(prob, _arch(), m)
