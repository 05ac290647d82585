"""The array's pipeline in the nest (simulator.cost.nest.systolic) against closed forms:
SCALE-Sim's per-fold ``2R + C + T − 2`` (WS, IS) and the RTL tile's ``2 + K + R`` (OS)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from nestcase import dims, order

from accelerator import pe
from simulator.cost.nest.analysis import evaluate
from simulator.cost.nest.arch import NestArch, NestLevel
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.problem import C, K, P, gemm
from simulator.cost.nest.score import arch_arrays, score
from simulator.cost.nest.systolic import pipeline, visits

ONE = (1.0, 1.0, 1.0)
ROWS, COLS = 4, 4


def _arch(dataflow: str) -> NestArch:
    levels = (
        NestLevel("glb", (True, True, True), 1e9, ONE, ONE, 1e6),
        NestLevel("dram", (True, True, True), math.inf, ONE, ONE, 1e6),
    )
    arch = NestArch("t", levels, ROWS, COLS, 0, (8.0, 8.0, 8.0), 8.0, 0.5, 1e9)
    return replace(arch, pipeline=pipeline(dataflow, ROWS, COLS))


def _ws(m: int, n: int, k: int, dram: dict[str, int], glb: dict[str, int], dram_order: tuple[int, ...]) -> Mapping:
    return Mapping(
        factors=(dims(**glb), dims(**dram)),  # type: ignore[arg-type]
        orders=(order(P), dram_order),  # type: ignore[arg-type]
        spatial_rows=dims(C=min(k, ROWS)),  # type: ignore[arg-type]
        spatial_cols=dims(K=min(n, COLS)),  # type: ignore[arg-type]
    )


def test_weight_stationary_fold_is_scalesims() -> None:
    # GEMM M = 10 (P, streamed), N = 8 (K, across columns), K = 8 (C, across rows): 2 x 2 folds,
    # fold loops above the streamed one: each fold streams its 10 rows once.
    prob = gemm("g", 10, 8, 8)
    res = evaluate(prob, _arch("weight_stationary"), _ws(10, 8, 8, {"K": 2, "C": 2}, {"P": 10}, order(K, C)))
    folds, t = 4, 10
    assert res.compute_cycles == folds * (2 * ROWS + COLS + t - 2)
    assert res.fill_cycles == folds * (2 * ROWS + COLS - 2)


def test_streamed_loop_outside_the_folds_changes_them_per_step() -> None:
    # the streamed P steps outermost at DRAM (P10 around K2 C2): every step changes all four folds
    prob = gemm("g", 10, 8, 8)
    m = _ws(10, 8, 8, {"P": 10, "K": 2, "C": 2}, {}, order(P, K, C))
    res = evaluate(prob, _arch("weight_stationary"), m)
    assert res.fill_cycles == 40 * (2 * ROWS + COLS - 2)
    assert res.compute_cycles == 40 + 40 * (2 * ROWS + COLS - 2)


def test_an_imperfect_fold_is_one_more_fold() -> None:
    # K = 6 on 4 rows: ceil(6 / 4) = 2 folds per column fold (the second half full), as SCALE-Sim
    prob = gemm("g", 10, 8, 6)
    res = evaluate(prob, _arch("weight_stationary"), _ws(10, 8, 6, {"K": 2, "C": 2}, {"P": 10}, order(K, C)))
    assert res.fill_cycles == 4 * (2 * ROWS + COLS - 2)
    assert res.compute_cycles == 4 * (2 * ROWS + COLS - 2) + 4 * 10


def test_output_stationary_fold_is_the_rtl_tile_and_revisits_preload() -> None:
    prob = gemm("g", 8, 8, 10)  # P = 8, K = 8, C = 10 (the reduction, in beats)
    arch = _arch("output_stationary")
    rows, cols = dims(P=4), dims(K=4)
    whole = Mapping((dims(C=10), dims(P=2, K=2)), (order(C), order(P, K)), rows, cols)  # type: ignore[arg-type]
    res = evaluate(prob, arch, whole)
    assert res.compute_cycles == 4 * pe.tile_cycles(10, "int8", rows=ROWS, cols=COLS)  # 4 folds of 2 + K + R
    # C split outermost: each fold is visited twice, the second time a delta op with preload
    split = Mapping((dims(C=5), dims(C=2, P=2, K=2)), (order(C), order(C, P, K)), rows, cols)  # type: ignore[arg-type]
    res = evaluate(prob, arch, split)
    first = pe.tile_cycles(5, "int8", rows=ROWS, cols=COLS)
    again = pe.tile_cycles(5, "int8_delta", rows=ROWS, cols=COLS, preload=True)
    assert res.compute_cycles == 4 * first + 4 * again


def test_row_stationary_has_no_pipeline_term() -> None:
    assert pipeline("row_stationary", 12, 14) is None


@pytest.mark.parametrize("dataflow", ["weight_stationary", "input_stationary", "output_stationary"])
def test_the_scorer_charges_what_the_analysis_charges(dataflow: str) -> None:
    prob = gemm("g", 10, 8, 8)
    arch = _arch(dataflow)
    m = _ws(10, 8, 8, {"P": 10, "K": 2, "C": 2}, {}, order(P, K, C))
    f, o, sp = m.arrays(arch)
    bounds = np.asarray(prob.bounds, np.int64)
    coef = np.ones((3, 4, 2), np.int64)
    _, cycles = score(arch_arrays(arch), bounds, coef, f[None], o[None], sp[None])
    res = evaluate(prob, arch, m)
    assert cycles[0] == pytest.approx(res.cycles, rel=1e-12)
    assert res.fill_cycles > 0


def test_visits_skip_loops_the_operand_ignores() -> None:
    # levels: per-PE (0), glb (1), dram (2); the array fans out under glb (fanout 1)
    f = np.ones((3, 7), np.int64)
    o = np.tile(np.arange(7), (3, 1))
    f[2, K], f[1, C], f[1, P], f[0, C] = 3, 2, 5, 7  # per-PE C7 runs inside the fold
    # weights: K3 (dram) > C2 P5 (glb, order N K C P ...): P ignored -> 3 x 2 changes of 6 tiles
    assert visits(f, o, 1, 0) == (6.0, 6.0)
    # outputs (N K P Q): P5 innermost relevant -> 3 x 2 x 5 = 30 changes of 15 tiles
    assert visits(f, o, 1, 2) == (30.0, 15.0)
