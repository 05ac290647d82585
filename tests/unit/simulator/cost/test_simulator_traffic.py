"""The convolution input (halo) factor of simulator.cost.traffic, against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.cost.traffic import conv_input_factor
from simulator.optable import ConvGeometry


def _f(
    m: int,
    k: int,
    mt: int,
    kt: int,
    *,
    h: int,
    w: int,
    q: int,
    stride: int = 1,
    r: int = 3,
    s: int = 3,
    c: int = 4,
    img: int = 1,
) -> float:
    a_unique = img * c * h * w
    return float(conv_input_factor(*_rows(m, k, mt, kt, a_unique), _geo(True, img, h, w, q, stride, r, s))[0])


def _rows(*values: int) -> list[np.ndarray]:
    return [np.array([x]) for x in values]


def _geo(conv: bool, img: int, h: int, w: int, q: int, stride: int, r: int, s: int) -> ConvGeometry:
    return ConvGeometry(
        conv=np.array([conv]),
        img=np.array([img]),
        in_h=np.array([h]),
        in_w=np.array([w]),
        out_q=np.array([q]),
        stride=np.array([stride]),
        kr=np.array([r]),
        ks=np.array([s]),
    )


def test_one_tile_reads_the_input_once() -> None:
    # 3x3 s1 p1 on 10x12, C=4: M = 120, K = 36.
    assert _f(120, 36, 120, 36, h=10, w=12, q=12) == 1.0


def test_row_tiles_reread_the_halo() -> None:
    # Tiles of 2 output rows (24 pixels): 5 tiles, 4 boundaries, each re-reads R - stride = 2 rows.
    assert _f(120, 36, 24, 36, h=10, w=12, q=12) == pytest.approx((10 + 4 * 2) / 10)
    # Stride 2, 3x3: halo of 1 row per boundary (5x6 output, tiles of one output row).
    assert _f(30, 36, 6, 36, h=10, w=12, q=6, stride=2) == pytest.approx((10 + 4 * 1) / 10)


def test_sub_row_tiles_reread_every_row_r_times() -> None:
    # Tiles of 4 pixels of a 12-wide row: 3 chunks per row re-read 2 columns at each of 2 seams.
    f = _f(120, 36, 4, 36, h=10, w=12, q=12)
    assert f == pytest.approx(10 * 3 * (12 + 2 * 2) / (10 * 12))


def test_small_k_tiles_and_the_im2col_cap() -> None:
    # K tiles of 3 taps re-read a channel's slice 3 times (9 taps / 3).
    assert _f(120, 36, 120, 3, h=10, w=12, q=12) == pytest.approx(3.0)
    # Never more than the im2col matrix M*K over the input.
    assert _f(120, 36, 1, 1, h=10, w=12, q=12) == pytest.approx(120 * 36 / (4 * 10 * 12))
    # Non-conv rows: factor 1.
    assert conv_input_factor(*_rows(120, 36, 1, 1, 120 * 36), _geo(False, 1, 1, 1, 1, 1, 1, 1))[0] == 1.0
