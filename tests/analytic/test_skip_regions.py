"""Closed forms for zero-skipping at the granularity the array skips (cost_sparsity).

An activation matrix is built by hand, its all-zero block fractions are counted with numpy
(the definition of ``docs/workload-format.md``), and the skipped cycles of one GEMM are
checked against the fraction of beats that are really zero, or against independence where
the trace lacks the region's shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from simcase import arch, gemm, one

from accelerator import pe
from accelerator.spec import BLOCK_SKIP_SHAPES
from models.workload import ACT_BLOCK_SHAPES, Workload, block_stat_name
from simulator.cost.sparsity import region_shapes, skip_region
from simulator.evaluation import evaluate

M, N, K = 256, 64, 64


def block_fracs(zero: np.ndarray, shapes: tuple[tuple[int, int], ...] = ACT_BLOCK_SHAPES) -> dict[str, list[float]]:
    """``{stat name: [fraction]}`` of all-zero whole ``r×c`` blocks; shapes with none left out."""
    out = {}
    for r, c in shapes:
        rows, k = (zero.shape[0] // r) * r, (zero.shape[1] // c) * c
        if rows and k:
            blocks = zero[:rows, :k].reshape(rows // r, r, k // c, c).all(axis=(1, 3))
            out[block_stat_name(r, c)] = [float(blocks.mean())]
    return out


def zero_row_runs(runs: tuple[int, ...], run: int = 32) -> np.ndarray:
    """``[M, K]`` zero mask: the given runs of ``run`` consecutive rows are all zero."""
    zero = np.zeros((M, K), dtype=bool)
    for i in runs:
        zero[i * run : (i + 1) * run] = True
    return zero


def skipped(stats: dict[str, list[float]], rows: int, dataflow: str, block: list[int], m: int = M) -> float:
    a = arch(rows, rows, dataflow, "int8", sparsity={"block_skip": block})
    return evaluate(one(gemm(m, N, K), stats=stats), a).per_op[0].skipped_cycles


def test_clustered_zero_rows_skip_their_exact_fraction_on_a_32_row_os_array() -> None:
    zero = zero_row_runs((0, 3, 4))  # 3 of 8 runs of 32 rows are zero
    folds = (M // 32) * (N // 32)
    beats = folds * K  # int8: one reduction element per OS beat
    stats = block_fracs(zero)
    assert stats["act_block_zero_frac_32x16"] == [3 / 8]
    # 1x16 masks: a beat's region is 32 rows x 16, recorded: exactly 3/8 of the beats.
    assert skipped(stats, 32, "output_stationary", [1, 16]) == pytest.approx(beats * 3 / 8)
    # one flag per beat (32x1): the same here
    assert skipped(stats, 32, "output_stationary", [32, 1]) == pytest.approx(beats * 3 / 8)
    # a trace with the 1x16 fraction only: independence over the 32 row blocks, ~0
    old = {k: v for k, v in stats.items() if k == "act_block_zero_frac_1x16"}
    assert old["act_block_zero_frac_1x16"] == [3 / 8]
    assert skipped(old, 32, "output_stationary", [1, 16]) == pytest.approx(beats * (3 / 8) ** 32)
    assert beats * (3 / 8) ** 32 < 1e-9


def test_masks_coarser_than_the_beat_see_only_whole_zero_blocks() -> None:
    # Reduction elements 0..7 are zero in every row: 8 of 64 beats are all zero, but no 1x16
    # mask block is, so a 1x16-mask design skips nothing and a per-beat flag skips 1/8.
    zero = np.zeros((M, K), dtype=bool)
    zero[:, :8] = True
    stats = block_fracs(zero)
    folds = (M // 32) * (N // 32)
    assert skipped(stats, 32, "output_stationary", [1, 16]) == 0.0
    assert skipped(stats, 32, "output_stationary", [32, 1]) == pytest.approx(folds * K / 8)


def test_ws_vector_uses_its_own_recorded_shape() -> None:
    # WS 32x32 int8: a streamed vector is 1 row x 32 reduction elements. Zero elements 0..31 of
    # every other row: a quarter of the vectors; the 1x16 fraction alone (1/4) would give 1/16.
    zero = np.zeros((M, K), dtype=bool)
    zero[::2, :32] = True
    stats = block_fracs(zero)
    assert stats["act_block_zero_frac_1x32"] == [0.25]
    vectors = (K // 32) * (N // 32) * M
    assert skipped(stats, 32, "weight_stationary", [1, 16]) == pytest.approx(vectors * 0.25)
    only_1x16 = {"act_block_zero_frac_1x16": stats["act_block_zero_frac_1x16"]}
    assert skipped(only_1x16, 32, "weight_stationary", [1, 16]) == pytest.approx(vectors * 0.25**2)


def test_an_op_with_fewer_rows_than_the_region_falls_through_to_a_smaller_shape() -> None:
    # 64 rows on a 128-row OS array: no whole 128x16 block, so the region (128 x 16) is
    # taken as 4 independent 32x16 blocks (half of them zero here).
    m = 64
    zero = np.zeros((m, K), dtype=bool)
    zero[:32] = True
    stats = block_fracs(zero)
    assert "act_block_zero_frac_128x16" not in stats
    stats["act_block_zero_frac_128x16"] = [float("nan")]  # recorded for the trace, not this op
    w = Workload(
        ops=(gemm(m, N, K),), steps=1, stats={k: ((None if np.isnan(v[0]) else v[0],),) for k, v in stats.items()}
    )
    a = arch(128, 128, "output_stationary", "int8", sparsity={"block_skip": [1, 16]})
    d = evaluate(w, a).per_op[0]
    beats = K  # one fold: 64 rows of 128 and 64 columns of 128
    assert d.skipped_cycles == pytest.approx(beats * 0.5**4)


def test_skip_region_and_shape_choice() -> None:
    assert skip_region((128, 1), (1, 16)) == (128, 16)  # OS int8 beat under 1x16 masks
    assert skip_region((32, 2), (1, 16)) == (32, 16)  # OS int4 beat
    assert skip_region((1, 128), (1, 16)) == (1, 128)  # WS vector: whole blocks already
    assert skip_region((8, 1), (8, 8)) == (8, 8)
    assert region_shapes((128, 16), (1, 16)) == [(128, 16), (32, 16), (1, 16)]
    assert region_shapes((128, 1), (128, 1)) == [(128, 1)]
    # ties in area go to more rows; 1x8 masks may use the 8x8 union of eight of them
    assert region_shapes((128, 8), (1, 8)) == [(8, 8), (1, 8)]
    assert region_shapes((16, 16), (1, 8)) == [(8, 8), (1, 16), (1, 8)]


def test_shapes_a_design_may_name_are_the_shapes_traces_record() -> None:
    assert BLOCK_SKIP_SHAPES == ACT_BLOCK_SHAPES


def test_per_beat_flags_at_int4_skip_the_exact_beat_fraction() -> None:
    # int4 on a 32-row OS array: a beat is 32 rows x 2 reduction elements; one flag per beat.
    zero = zero_row_runs((1, 2))  # 2 of 8 runs of 32 rows are zero
    stats = block_fracs(zero)
    a = arch(
        32,
        32,
        "output_stationary",
        "int8",
        sparsity={"block_skip": [32, 2]},
        numerics={"weights": {"format": "int4"}, "activations": {"format": "int4"}},
    )
    folds = (M // 32) * (N // 32)
    beats = folds * (K // 2)
    d = evaluate(one(gemm(M, N, K), stats=stats), a).per_op[0]
    assert d.skipped_cycles == pytest.approx(beats * 2 / 8)
    assert d.compute_cycles == pytest.approx(folds * pe.tile_cycles(K // 2, "int4", rows=32) - beats * 2 / 8)
    # 32x1 flags: the region (two 32x1 blocks) is the recorded 32x2 union, still exact ...
    a1 = arch(
        32,
        32,
        "output_stationary",
        "int8",
        sparsity={"block_skip": [32, 1]},
        numerics={"weights": {"format": "int4"}, "activations": {"format": "int4"}},
    )
    assert evaluate(one(gemm(M, N, K), stats=stats), a1).per_op[0].skipped_cycles == pytest.approx(beats / 4)
    # ... and without the 32x2 statistic the two 32x1 blocks are taken as independent
    no_32x2 = {k: v for k, v in stats.items() if k != "act_block_zero_frac_32x2"}
    d1 = evaluate(one(gemm(M, N, K), stats=no_32x2), a1).per_op[0]
    assert d1.skipped_cycles == pytest.approx(beats * (2 / 8) ** 2)
