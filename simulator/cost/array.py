"""Compute-array timing: cycles of a tiled GEMM on an R×C array, per dataflow, in closed form.

A GEMM ``C[M×N] = A[M×K]·B[K×N]`` on an R×C array is cut into folds. Which GEMM dimensions
map to the array's rows, columns and time depends on the dataflow (the SCALE-Sim convention,
Samajdar et al., ISPASS 2020, "A systematic methodology for characterizing scalability of DNN
accelerators using SCALE-Sim"):

============================  ==========  ==========  ===========
dataflow                      rows        cols        time
============================  ==========  ==========  ===========
output_stationary             M           N           K (beats)
weight_stationary             K           N           M
input_stationary              K           M           N
============================  ==========  ==========  ===========

The buffer tile ``(Mt, Nt, Kt)`` of :mod:`simulator.cost.mapping` decides how often folds restart.
Tile sizes are multiples of the array extent they map to (or the whole extent), so fold counts
add up exactly over tiles:

- weight-/input-stationary arrays are systolic: a fold takes ``2R + C + T − 2`` cycles
  (operand fill along the rows, skew across the columns, drain; SCALE-Sim), with ``T`` the
  streamed extent of the tile. Over all tiles: WS ``⌈K'/R⌉·⌈N/C⌉·(t_M·(2R + C − 2) + M)``,
  IS ``⌈K'/R⌉·⌈M/C⌉·(t_N·(2R + C − 2) + N)``, ``K' = ⌈K/p⌉`` with ``p`` MACs per PE per
  cycle (packed modes put ``p`` reduction elements in one PE) and ``t`` the tile count.
- the output-stationary array is the PE tile of ``rtl/pe_tile`` replicated: each fold is one
  tile op of ``⌈K/p⌉`` beats and its cycles come from :func:`accelerator.pe.tile_cycles`, so
  the simulator and the RTL agree cycle for cycle. When a fold's accumulators cannot stay in
  the array across K tiles (several folds per buffer tile, or K not the innermost loop), each
  later K tile is a delta-mode op with ``preload`` (the partial sums are loaded back, ``R``
  cycles).

Skipping (zero blocks, zero delta vectors) removes temporal units: OS beats, WS streamed row
vectors, IS whole folds; ``ArrayCycles.temporal`` is the number of cycles those units take,
so skipping a fraction ``s`` of them saves ``s·temporal`` cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelerator import pe

#: Loop orders of the buffer tiles (which loop is innermost): K (outputs stay), N (the
#: activation tile is reused across weight tiles), M (the weight tile is reused).
K_INNER, N_INNER, M_INNER = 0, 1, 2
LOOP_ORDERS = ("k_innermost", "n_innermost", "m_innermost")
OS, WS, IS = 0, 1, 2


def cdiv(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Ceiling division of non-negative integers held in float arrays.

    ``ceil(a / b)`` is exact here: when ``b`` does not divide ``a`` the quotient is at least
    ``1/b`` away from an integer, far more than a rounding error for values below 2^40.
    """
    return np.ceil(np.divide(a, b, dtype=np.float64))


@dataclass(frozen=True)
class ArrayCycles:
    """Dense cycles of GEMMs per batch item (arrays broadcast like the inputs)."""

    cycles: np.ndarray
    temporal: np.ndarray  # cycles of skippable units
    folds: np.ndarray  # array folds (OS: tile ops)
    acc_resident: np.ndarray  # OS: accumulators stay across K tiles (WS/IS: True)
    k_folds: np.ndarray  # folds along the reduction (partial sums per output - 1 + 1)


def tile_op_cycles(rows: int, cols: int, preload: bool) -> tuple[float, float]:
    """(fixed cycles, cycles per beat) of one RTL tile op, read off :func:`pe.tile_cycles`.

    The tile's timing is affine in its beats (``2 + (R if preload) + beats + R``); taking the
    two coefficients from the RTL's own model keeps it the single source of truth while the
    cost model evaluates millions of candidate tiles in closed form.
    """
    mode = "int8_delta" if preload else "int8"
    c0 = pe.tile_cycles(0, mode, rows=rows, cols=cols, preload=preload)
    c1 = pe.tile_cycles(1, mode, rows=rows, cols=cols, preload=preload)
    return float(c0), float(c1 - c0)


def _os_cycles(R: int, C: int, kb: np.ndarray, ktb: np.ndarray, preload: bool) -> np.ndarray:
    """Cycles of one fold's tile ops over K: the first op plus preloaded later ops."""
    fixed, per_beat = tile_op_cycles(R, C, preload)
    again, _ = tile_op_cycles(R, C, True)
    ops = cdiv(kb, ktb)
    return fixed + (ops - 1.0) * again + per_beat * kb


def gemm_cycles(
    dataflow: int,
    rows: int,
    cols: int,
    mpc: int | np.ndarray,
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    mt: np.ndarray,
    nt: np.ndarray,
    kt: np.ndarray,
    order: np.ndarray | int,
    *,
    preload: bool = False,
) -> ArrayCycles:
    """Dense compute cycles of one batch item of ``M×N×K`` GEMMs with tiles ``(Mt, Nt, Kt)``.

    ``preload`` (output-stationary delta mode): every fold first loads the stored previous
    output (``R`` cycles per fold, :func:`accelerator.pe.tile_cycles`).
    """
    R, C = rows, cols
    kb = cdiv(k, mpc)
    ktb = cdiv(np.minimum(kt, k), mpc)
    tk = cdiv(k, kt)
    if dataflow == OS:
        folds = cdiv(m, R) * cdiv(n, C)
        per_tile = cdiv(mt, R) * cdiv(nt, C)
        resident = (tk <= 1) | ((per_tile == 1) & (order == K_INNER))
        whole = _os_cycles(R, C, kb, kb, preload)
        split = _os_cycles(R, C, kb, ktb, preload)
        per_fold = np.where(resident, whole, split)
        ops = np.where(resident, 1, cdiv(kb, ktb))
        return ArrayCycles(
            folds * per_fold, folds * kb.astype(np.float64), folds * ops, np.broadcast_to(resident, per_fold.shape), ops
        )
    # Systolic: reduction on the rows, in whole-array folds per K tile.
    last = kb - (cdiv(kb, ktb) - 1) * ktb
    k_folds = (cdiv(kb, ktb) - 1) * cdiv(ktb, R) + cdiv(last, R)
    fill = 2 * R + C - 2
    if dataflow == WS:
        spatial = k_folds * cdiv(n, C)
        tm = cdiv(m, mt)
        cycles = spatial * (tm * fill + m)
        temporal = spatial * m
        folds = spatial * tm
    else:
        spatial = k_folds * cdiv(m, C)
        tn = cdiv(n, nt)
        cycles = spatial * (tn * fill + n)
        temporal = cycles
        folds = spatial * tn
    shape = np.broadcast_shapes(np.shape(cycles), np.shape(order))
    return ArrayCycles(
        np.broadcast_to(cycles, shape).astype(np.float64),
        np.broadcast_to(temporal, shape).astype(np.float64),
        np.broadcast_to(folds, shape).astype(np.float64),
        np.ones(shape, dtype=bool),
        np.broadcast_to(k_folds, shape),
    )


def spatial_utilization(
    dataflow: int, rows: int, cols: int, mpc: int, m: np.ndarray, n: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Fraction of PEs a fold keeps busy on average (edge folds leave PEs idle)."""
    kb = cdiv(k, mpc)
    a, b = {OS: (m, n), WS: (kb, n), IS: (kb, m)}[dataflow]
    return (a * b) / (cdiv(a, rows) * rows * cdiv(b, cols) * cols)
