"""Mapping: choose the on-chip tile of every GEMM and count the bytes it moves.

The outermost on-chip level (the global buffer, GLB) holds an output tile ``Mt×Nt`` with the
``Mt×Kt`` activation and ``Kt×Nt`` weight tiles that feed it; loops over K run innermost so
the output tile never spills partial sums. When the whole reduction fits (``Kt = K``) one
operand can also stay resident across the other's tiles (two loop orders). For each GEMM a
small grid of candidate tiles (array-multiple sizes, powers of two) is scored in one
vectorised pass and the cheapest legal candidate wins; ties go to the first candidate, so
the choice is deterministic.

DRAM traffic (elements) for a candidate, per batch item (A = M·K, or for a convolution its
input tensor times the halo factor of :func:`simulator.cost_traffic.conv_input_factor`):

- ``Kt < K``:  A·⌈N/Nt⌉ + B·⌈M/Mt⌉ + C
- ``Kt = K``:  min(A + B·⌈M/Mt⌉, A·⌈N/Nt⌉ + B) + C

with A = M·K, B = K·N, C = M·N. Capacity: Mt·Kt·a + Kt·Nt·w + Mt·Nt·p ≤ GLB (half of it when
double buffered), with a, w, p the activation, weight and partial-sum widths in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost_traffic import conv_input_factor
from simulator.optable import OpTable


@dataclass(frozen=True)
class GemmMapping:
    """Chosen tiles and DRAM traffic per GEMM row (all arrays of length n_gemm)."""

    mt: np.ndarray
    nt: np.ndarray
    kt: np.ndarray
    order: np.ndarray  # 0: K-tiled, 1: A resident, 2: B resident
    dram_act_elems: np.ndarray
    dram_weight_elems: np.ndarray
    dram_out_elems: np.ndarray
    fits: np.ndarray  # bool: some candidate fit the buffer


def _candidates(extent: np.ndarray, base: int, count: int) -> np.ndarray:
    """[n, count] tile sizes base·2^i clipped to the extent (the extent itself included)."""
    sizes = base * (2 ** np.arange(count - 1))
    cand = np.minimum(extent[:, None], sizes[None, :])
    return np.concatenate([cand, extent[:, None]], axis=1)


def map_gemms(
    table: OpTable,
    *,
    rows: int,
    cols: int,
    capacity_bytes: float,
    act_bytes: float,
    weight_bytes: float,
    psum_bytes: float,
    weight_energy_per_elem: np.ndarray | float = 1.0,
    act_energy_per_elem: float = 1.0,
) -> GemmMapping:
    """Choose a tile per GEMM row minimising weighted DRAM traffic; see the module docstring.

    The weights let the caller minimise energy (pJ per element moved) rather than bytes.
    """
    m, n, k, batch = table.g_m, table.g_n, table.g_k, table.g_batch
    g = m.shape[0]
    if g == 0:
        z = np.zeros(0, dtype=np.int64)
        return GemmMapping(z, z, z, z, z.astype(float), z.astype(float), z.astype(float), z.astype(bool))
    nm, nn, nk = 8, 8, 8
    mt = _candidates(m, rows, nm)  # [g, nm]
    nt = _candidates(n, cols, nn)
    kt = _candidates(k, 16, nk)
    MT = mt[:, :, None, None].astype(np.float64)
    NT = nt[:, None, :, None].astype(np.float64)
    KT = kt[:, None, None, :].astype(np.float64)
    M = m[:, None, None, None].astype(np.float64)
    N = n[:, None, None, None].astype(np.float64)
    K = k[:, None, None, None].astype(np.float64)
    need = MT * KT * act_bytes + KT * NT * weight_bytes + MT * NT * psum_bytes
    legal = need <= capacity_bytes

    geo = [x[:, None, None, None] for x in (
        table.g_a_unique, table.g_conv, table.g_img, table.g_in_h, table.g_in_w, table.g_out_q,
        table.g_stride, table.g_kr, table.g_ks)]
    a_factor = conv_input_factor(M, K, MT, KT, *geo)
    a_elems, b_elems = geo[0] * a_factor, K * N
    a_re = np.ceil(N / NT)
    b_re = np.ceil(M / MT)
    wa = act_energy_per_elem
    wb = np.asarray(weight_energy_per_elem, dtype=np.float64)
    wb = wb[:, None, None, None] if wb.ndim == 1 else wb
    full_k = KT >= K
    # Three orders; per candidate keep the cheapest legal one.
    cost_tiled = wa * a_elems * a_re + wb * b_elems * b_re
    cost_a_res = np.where(full_k, wa * a_elems + wb * b_elems * b_re, np.inf)
    cost_b_res = np.where(full_k, wa * a_elems * a_re + wb * b_elems, np.inf)
    shape = legal.shape
    costs = np.stack([np.broadcast_to(x, shape) for x in (cost_tiled, cost_a_res, cost_b_res)], axis=-1)  # [g, nm, nn, nk, 3]
    costs = np.where(legal[..., None], costs, np.inf)
    flat = costs.reshape(g, -1)
    best = np.argmin(flat, axis=1)
    fits = np.isfinite(flat[np.arange(g), best])
    order = best % 3
    cand = best // 3
    im, rest = np.divmod(cand, nn * nk)
    inn, ik = np.divmod(rest, nk)
    rows_idx = np.arange(g)
    MTs, NTs, KTs = mt[rows_idx, im], nt[rows_idx, inn], kt[rows_idx, ik]
    a_reads = np.where(order == 1, 1.0, np.ceil(n / NTs))
    b_reads = np.where(order == 2, 1.0, np.ceil(m / MTs))
    bf = batch.astype(np.float64)
    a_once = table.g_a_unique * conv_input_factor(
        m, k, MTs, KTs, table.g_a_unique, table.g_conv, table.g_img, table.g_in_h, table.g_in_w,
        table.g_out_q, table.g_stride, table.g_kr, table.g_ks)
    return GemmMapping(
        mt=MTs,
        nt=NTs,
        kt=KTs,
        order=order,
        dram_act_elems=bf * a_once * a_reads,
        dram_weight_elems=bf * k * n * b_reads,
        dram_out_elems=bf * m * n,
        fits=fits,
    )


def require_fit(mapping: GemmMapping, op_index: np.ndarray, capacity_bytes: float, names: list[str]) -> None:
    """Raise a :class:`SimulationError` naming the first GEMM no tile fits."""
    if mapping.fits.all():
        return
    bad = int(np.argmin(mapping.fits))
    raise SimulationError(
        f"op {int(op_index[bad])} ({names[int(op_index[bad])]}): no tile fits the global buffer of "
        f"{capacity_bytes:.0f} usable bytes, even one array-sized tile; enlarge the buffer"
    )
