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
  (stationary operand loaded along the rows, skew across the columns, drain; SCALE-Sim), with
  ``T`` the rows streamed through it. The fill/drain ``2R + C − 2`` is paid once per *change*
  of the stationary operand, not per buffer tile: rows streamed back to back through the same
  fold pipeline. WS (the stationary operand is B; ``f = ⌈K'/R⌉·⌈N/C⌉`` folds in all,
  ``K' = ⌈K/p⌉`` with ``p`` MACs per PE per cycle, ``t`` tile counts) visits each weight tile
  once per M tile, its folds in turn; consecutive M tiles of one weight tile (M innermost)
  visit them in alternating (serpentine) order, so the fold at the end of one M tile starts
  the next and only ``t_M − 1`` changes per weight tile are saved::

      changes = f·t_M − [M innermost]·(t_M − 1)·t_N·t_K,   cycles = changes·(2R + C − 2) + f·M

  A weight tile of one fold (``Nt ≤ C``, ``Kt ≤ R·p``) with M innermost therefore changes
  once: ``f·(2R + C − 2 + M)``, SCALE-Sim's count. Iterating the folds of a larger tile
  outermost (each fold over all M tiles) changes as rarely but moves what the one-fold tile
  moves: along N it re-reads the activations per fold exactly as ``Nt = C`` tiles do, along K
  it needs the partial sums of all ``M`` rows between folds (spilled, as ``Kt = R·p`` tiles
  spill them); the mapper has those tiles as candidates, so they are not a separate order.
  IS is the same with A stationary, N streamed and N innermost keeping the input tile:
  ``changes = f·t_N − [N innermost]·(t_N − 1)·t_M·t_K``, ``f = ⌈K'/R⌉·⌈M/C⌉``.
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
    folds: np.ndarray  # fold runs the array works through in sequence (OS: tile ops; WS/IS: changes)
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
    t_k = cdiv(kb, ktb)
    if dataflow == WS:
        spatial = k_folds * cdiv(n, C)
        t_stream, t_other, keeps = cdiv(m, mt), cdiv(n, nt), order == M_INNER
        streamed = m
    else:
        spatial = k_folds * cdiv(m, C)
        t_stream, t_other, keeps = cdiv(n, nt), cdiv(m, mt), order == N_INNER
        streamed = n
    # Stationary tiles that stay while the streamed tiles pass (serpentine fold order):
    # each saves t_stream − 1 changes.
    changes = spatial * t_stream - np.where(keeps, (t_stream - 1) * t_other * t_k, 0.0)
    cycles = changes * fill + spatial * streamed
    temporal = spatial * m if dataflow == WS else cycles
    folds = changes
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


def spatial_coverage(
    dataflow: int, rows: int, cols: int, mpc: int, m: np.ndarray, n: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Fraction of the PEs a GEMM's mapping reaches at all: the rows × columns its spatial dimensions
    fill (``min(a, rows) · min(b, cols) / (rows · cols)``, the dimensions of
    :func:`spatial_utilization`), the PEs a design with ``idle_pe_gating`` clocks for the op."""
    kb = cdiv(k, mpc)
    a, b = {OS: (m, n), WS: (kb, n), IS: (kb, m)}[dataflow]
    return np.minimum(a, rows) * np.minimum(b, cols) / float(rows * cols)
