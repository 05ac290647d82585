"""Operand traffic that :func:`simulator.cost.gemm.gemm_cost` adds up beyond the tile table.

- **The convolution halo** (:func:`conv_input_factor`): a convolution reads its input tensor,
  not the im2col matrix, so A's DRAM footprint is the input with the rows (and columns) that
  neighbouring tiles share re-read.
- **Weights resident in a level** (:func:`resident_weights`): rows whose weights stay in
  ``hw.resident_level`` across steps (:mod:`simulator.cost.residency`) read them from that
  level, with no DRAM read and no fill.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.cost.hardware import WGT, Hardware
from simulator.optable import ConvGeometry


def conv_input_factor(
    m: np.ndarray, k: np.ndarray, mt: np.ndarray, kt: np.ndarray, a_unique: np.ndarray, geo: ConvGeometry
) -> np.ndarray:
    """Elements of A read from DRAM per pass over all (M, K) tiles, over ``a_unique``.

    Convolutions read their input tensor, not the im2col matrix: a tile of ``Mt`` output
    pixels (raster order, ``Q`` per output row) needs the input rows under it, and consecutive
    tiles re-read the ``R − stride`` rows they share (the halo). With tiles shorter than one
    output row every output row re-reads its ``R`` input rows, and row chunks share
    ``S − stride`` columns. A K tile smaller than one channel's ``R·S`` taps re-reads that
    channel's slice once per tile. The factor is clipped to ``[1, M·K / input]``: DRAM bursts
    read whole rows (so never less than the input once), and never more than the im2col
    matrix. Elements per batch item; arrays broadcast; rows with ``geo.conv`` False get 1
    (their A footprint is ``M·K``).
    """
    img, in_h, in_w, out_q, kr, ks = geo.img, geo.in_h, geo.in_w, geo.out_q, geo.kr, geo.ks
    with np.errstate(divide="ignore", invalid="ignore"):
        tm = np.ceil(m / mt)
        halo_r = np.maximum(kr - geo.stride, 0)
        halo_s = np.maximum(ks - geo.stride, 0)
        whole_rows = (img * in_h + (tm - 1) * halo_r) / (img * in_h)
        out_rows = m / np.maximum(out_q, 1)
        chunks = np.ceil(out_q / mt)
        part_rows = out_rows * kr * (in_w + (chunks - 1) * halo_s) / (img * in_h * in_w)
        f_m = np.where(mt >= out_q, whole_rows, part_rows)
        f_k = np.maximum(1.0, np.ceil(kr * ks / kt))
        f = np.clip(f_m * f_k, 1.0, np.maximum(m * k / a_unique, 1.0))
    return np.where(geo.conv, f, 1.0)


def resident_weights(
    hw: Hardware,
    rd: list[Any],
    wr: list[Any],
    dram_rd: dict[int, Any],
    s_bytes: np.ndarray,
    f_bytes: np.ndarray,
    res: np.ndarray,
) -> None:
    """Weight traffic when rows ``res`` keep their weights in ``hw.resident_level`` (``L``):
    the stream is read from ``L`` and passes the holding levels inside it; nothing is
    written into ``L`` (the fill is charged once per image) and nothing comes from DRAM.
    Other rows move their weights as usual."""
    lo, hi, top = hw.stream[WGT], hw.home[WGT], hw.resident_level
    dram_rd[WGT] = dram_rd[WGT] + np.where(res, 0.0, f_bytes)
    for i in range(lo, hi + 1):
        if not hw.levels[i].holds[WGT]:
            continue
        usual_wr = s_bytes if i < hi else f_bytes
        if i < top:
            rd[i] = rd[i] + s_bytes
            wr[i] = wr[i] + s_bytes
        elif i == top:
            rd[i] = rd[i] + s_bytes
            wr[i] = wr[i] + np.where(res, 0.0, usual_wr)
        else:
            rd[i] = rd[i] + np.where(res, 0.0, s_bytes)
            wr[i] = wr[i] + np.where(res, 0.0, usual_wr)
