"""Closed forms of the array's fill/drain count and of the overlap of a one-tile op.

- Systolic fill/drain (``2R + C − 2``) is paid per change of the stationary operand. WS: a
  weight tile of ``f_w`` folds visited by ``t_M`` M tiles changes ``f_w·t_M`` times, or
  ``f_w·t_M − (t_M − 1)`` with M innermost (the weight tile stays; consecutive M tiles visit
  its folds in alternating order). One fold per tile with M innermost: SCALE-Sim's
  ``k_folds·n_folds·(2R + C + M − 2)``. IS is the same with A stationary and N streamed.
- Output stationary stays the RTL tile's (``tests/rtl``): its cycles do not depend on the
  loop order when accumulators stay.
- Double-buffered, a one-tile op exposes one fold run's load and write-back, not the tile's:
  ``lat + rd/n + max(compute, (rd + wr)(1 − 1/n)) + wr/n`` with ``n`` the array's fold runs;
  single-buffered it stays serial, ``lat + rd + wr + compute``.
"""

from __future__ import annotations

import numpy as np
import pytest
from simcase import arch, gemm, one

from simulator.cost.array import IS, K_INNER, M_INNER, N_INNER, OS, WS, gemm_cycles
from simulator.evaluation import evaluate


def _c(a: int, b: int) -> int:
    return -(-a // b)


def _cyc(dataflow: int, r: int, c: int, mnk: tuple[int, int, int], tile: tuple[int, int, int], order: int) -> float:
    m, n, k = (np.array([float(x)]) for x in mnk)
    mt, nt, kt = (np.array([float(x)]) for x in tile)
    return float(gemm_cycles(dataflow, r, c, 1, m, n, k, mt, nt, kt, np.array([order])).cycles[0])


SHAPES = [(8, 8), (16, 4), (32, 32)]
GEMMS = [(300, 17, 33), (3136, 64, 576), (1000, 130, 64)]


@pytest.mark.parametrize("r,c", SHAPES)
@pytest.mark.parametrize("m,n,k", GEMMS)
@pytest.mark.parametrize("mt", [32, 64, 256])
def test_ws_one_fold_tiles_with_m_innermost_fill_once_per_fold(r: int, c: int, m: int, n: int, k: int, mt: int) -> None:
    folds = _c(k, r) * _c(n, c)
    assert _cyc(WS, r, c, (m, n, k), (mt, c, r), M_INNER) == folds * (2 * r + c - 2 + m)
    # Any other loop order changes the weights between consecutive M tiles: once per tile.
    for order in (K_INNER, N_INNER):
        assert _cyc(WS, r, c, (m, n, k), (mt, c, r), order) == folds * (_c(m, mt) * (2 * r + c - 2) + m)


@pytest.mark.parametrize("r,c", SHAPES)
@pytest.mark.parametrize("m,n,k", GEMMS)
@pytest.mark.parametrize("mt,nt_f,kt_f", [(32, 2, 3), (64, 1, 4), (128, 4, 1)])
def test_ws_several_folds_per_tile_count_every_change(
    r: int, c: int, m: int, n: int, k: int, mt: int, nt_f: int, kt_f: int
) -> None:
    nt, kt = min(nt_f * c, n), min(kt_f * r, k)
    folds = _c(k, r) * _c(n, c)  # tiles are whole multiples of the array: folds add up
    t_m, weight_tiles = _c(m, mt), _c(n, nt) * _c(k, kt)
    changes = folds * t_m - (t_m - 1) * weight_tiles
    assert _cyc(WS, r, c, (m, n, k), (mt, nt, kt), M_INNER) == changes * (2 * r + c - 2) + folds * m
    assert _cyc(WS, r, c, (m, n, k), (mt, nt, kt), K_INNER) == folds * (t_m * (2 * r + c - 2) + m)


@pytest.mark.parametrize("r,c", SHAPES)
@pytest.mark.parametrize("m,n,k", GEMMS)
@pytest.mark.parametrize("nt,mt_f,kt_f", [(32, 1, 1), (64, 2, 3)])
def test_is_keeps_the_input_tile_with_n_innermost(
    r: int, c: int, m: int, n: int, k: int, nt: int, mt_f: int, kt_f: int
) -> None:
    mt, kt = min(mt_f * c, m), min(kt_f * r, k)
    folds = _c(k, r) * _c(m, c)
    t_n, input_tiles = _c(n, nt), _c(m, mt) * _c(k, kt)
    changes = folds * t_n - (t_n - 1) * input_tiles
    assert _cyc(IS, r, c, (m, n, k), (mt, nt, kt), N_INNER) == changes * (2 * r + c - 2) + folds * n
    assert _cyc(IS, r, c, (m, n, k), (mt, nt, kt), M_INNER) == folds * (t_n * (2 * r + c - 2) + n)
    if mt_f == kt_f == 1:
        assert changes == folds


@pytest.mark.parametrize("order", [K_INNER, N_INNER, M_INNER])
def test_output_stationary_does_not_depend_on_the_loop_order(order: int) -> None:
    # One K tile: accumulators stay; every fold is one RTL tile op of 2 + K + R cycles.
    r, c, (m, n, k) = 8, 8, (300, 17, 33)
    assert _cyc(OS, r, c, (m, n, k), (64, 16, k), order) == _c(m, r) * _c(n, c) * (2 + k + r)


@pytest.mark.parametrize("dataflow", ["weight_stationary", "input_stationary", "output_stationary"])
def test_mapped_cycles_follow_the_change_count_of_the_chosen_tiles(dataflow: str) -> None:
    # A small buffer forces several tiles; whatever the mapper picks, its compute cycles are
    # the closed form of the tiles and order it reports.
    r = c = 16
    m, n, k = 1024, 96, 320
    op = evaluate(one(gemm(m, n, k)), arch(r, c, dataflow, "int8", glb_bytes=1 << 15)).per_op[0]
    g = op.mapping["gemms"][0]
    order = ("k_innermost", "n_innermost", "m_innermost").index(g["loop_order"])
    df = {"weight_stationary": WS, "input_stationary": IS, "output_stationary": OS}[dataflow]
    tiles = tuple(int(x) for x in g["tile_mnk"])
    assert op.compute_cycles == _cyc(df, r, c, (m, n, k), tiles, order)  # type: ignore[arg-type]


def _one_tile_op(double_buffered: bool) -> tuple[float, float, dict[str, float]]:
    """A 1×1-conv-like GEMM that is one buffer tile, DRAM slow enough to matter."""
    a = arch(16, 16, "weight_stationary", "int8", dram_gbps=4.0, double_buffered=double_buffered)
    lat_free = a.model_copy(
        update={"memory": a.memory.model_copy(update={"dram": a.memory.dram.model_copy(update={"latency_ns": 0.0})})}
    )
    op = evaluate(one(gemm(32, 64, 128)), lat_free, objective="latency").per_op[0]
    assert op.mapping["gemms"][0]["tile_mnk"] == [32, 64, 128]  # one tile
    return op.cycles, op.compute_cycles, dict(op.stall_cycles)


def test_one_tile_op_overlaps_per_fold_run_when_double_buffered() -> None:
    cycles_s, compute, st_s = _one_tile_op(False)
    busy = compute + st_s["sram"]  # the array or the buffer, whichever is slower
    rd_wr = st_s["serial"]  # single-buffered: load, compute, write back in turn
    assert rd_wr > 0 and cycles_s == pytest.approx(busy + rd_wr, rel=1e-12)
    cycles_d, compute_d, st_d = _one_tile_op(True)
    assert compute_d == compute and st_d["serial"] == 0 and st_d["sram"] == st_s["sram"]
    runs = _c(128, 16) * _c(64, 16)  # one tile, every fold once
    # One run's share of the load and write-back is exposed; the rest overlaps the array.
    assert st_d["fill_drain"] == pytest.approx(rd_wr / runs, rel=1e-9)
    assert cycles_d == pytest.approx(rd_wr / runs + max(busy, rd_wr * (1 - 1 / runs)), rel=1e-9)
    assert cycles_d < cycles_s
