"""Traffic formulas shared by the mapper and the cost model (elements, per batch item).

Convolutions read their input tensor, not the im2col matrix: a tile of ``Mt`` output pixels
(raster order, ``Q`` per output row) needs the input rows under it, and consecutive tiles
re-read the ``R − stride`` rows they share (the halo). With tiles shorter than one output row
every output row re-reads its ``R`` input rows, and row chunks share ``S − stride`` columns.
A K tile smaller than one channel's ``R·S`` taps re-reads that channel's slice once per tile.
The factor is clipped to ``[1, M·K / input]``: DRAM bursts read whole rows (so never less
than the input once), and never more than the im2col matrix.
"""

from __future__ import annotations

import numpy as np


def conv_input_factor(
    m: np.ndarray, k: np.ndarray, mt: np.ndarray, kt: np.ndarray, a_unique: np.ndarray,
    conv: np.ndarray, img: np.ndarray, in_h: np.ndarray, in_w: np.ndarray, out_q: np.ndarray,
    stride: np.ndarray, kr: np.ndarray, ks: np.ndarray,
) -> np.ndarray:
    """Elements of A read from DRAM per pass over all (M, K) tiles, over ``a_unique``.

    Arrays broadcast; rows with ``conv`` False get 1 (their A footprint is ``M·K``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        tm = np.ceil(m / mt)
        halo_r = np.maximum(kr - stride, 0)
        halo_s = np.maximum(ks - stride, 0)
        whole_rows = (img * in_h + (tm - 1) * halo_r) / (img * in_h)
        out_rows = m / np.maximum(out_q, 1)
        chunks = np.ceil(out_q / mt)
        part_rows = out_rows * kr * (in_w + (chunks - 1) * halo_s) / (img * in_h * in_w)
        f_m = np.where(mt >= out_q, whole_rows, part_rows)
        f_k = np.maximum(1.0, np.ceil(kr * ks / kt))
        f = np.clip(f_m * f_k, 1.0, np.maximum(m * k / a_unique, 1.0))
    return np.where(conv, f, 1.0)
