"""Compute-array timing: cycles of one fold (one array-sized tile of a GEMM) per dataflow.

A GEMM ``C[M×N] = A[M×K]·B[K×N]`` on an R×C array is cut into folds. Which GEMM dimensions
map to the array's rows, columns and time depends on the dataflow (the SCALE-Sim convention,
Samajdar et al., ISPASS 2020, "A systematic methodology for characterizing scalability of DNN
accelerators using SCALE-Sim"):

============================  ==========  ==========  ===========
dataflow                      rows (Sr)   cols (Sc)   time (T)
============================  ==========  ==========  ===========
output_stationary             M           N           K
weight_stationary             K           N           M
input_stationary              K           M           N
============================  ==========  ==========  ===========

Weight- and input-stationary arrays are systolic: a fold takes ``2R + C + T − 2`` cycles
(operand fill along the rows, skew across the columns, drain). The output-stationary array is
the PE tile of ``rtl/pe_tile`` replicated: its fold time comes from the tile's own timing
model in :mod:`accelerator.pe`, so the simulator and the RTL agree cycle for cycle.

All functions take numpy arrays (one entry per op) and return float64 arrays.
"""

from __future__ import annotations

import numpy as np

from accelerator import pe
from accelerator.spec import ComputeSpec


def _ceil_div(a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    return -(-a // b)


def _os_tile_cycles(beats: np.ndarray, compute: ComputeSpec) -> np.ndarray:
    """Cycles of one output-stationary tile operation, from the RTL tile's own timing model.

    Beats dropped by skipping (zero blocks, zero delta vectors) never reach the tile: the
    feeder compacts them, so the tile sees ``beats`` issued beats.
    """
    return pe.tile_cycles(beats.astype(np.int64), "int8", rows=compute.rows, cols=compute.cols).astype(np.float64)


def fold_dims(dataflow: str, m: np.ndarray, n: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, ...]:
    """(spatial rows, spatial cols, temporal) GEMM extents for ``dataflow``."""
    if dataflow == "output_stationary":
        return m, n, k
    if dataflow == "weight_stationary":
        return k, n, m
    if dataflow == "input_stationary":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r}")


def gemm_cycles(
    compute: ComputeSpec,
    batch: np.ndarray,
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    macs_per_cycle: int,
    skip_frac: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute cycles of batched GEMMs on the array.

    Returns ``(cycles, folds, skipped_cycles)``. ``macs_per_cycle`` is the PE's MACs per cycle
    at the run precision (packed modes pack that many reduction elements into one beat).
    ``skip_frac`` is the fraction of temporal beats the array can skip (all-zero activation
    blocks at its granularity, or all-zero delta vectors); it only applies to the temporal
    dimension when that dimension is the reduction (output-stationary), else it is ignored.
    """
    R, C = compute.rows, compute.cols
    sr, sc, t = fold_dims(compute.dataflow, m, n, k)
    folds = batch * _ceil_div(sr, R) * _ceil_div(sc, C)
    skip = np.broadcast_to(np.asarray(skip_frac, dtype=np.float64), t.shape)
    if compute.dataflow == "output_stationary":
        beats = _ceil_div(t, macs_per_cycle).astype(np.float64)
        skipped_beats = np.floor(beats * skip)
        per_fold = _os_tile_cycles(beats - skipped_beats, compute)
        dense_per_fold = _os_tile_cycles(beats, compute)
        cycles = folds * per_fold
        return cycles, folds, folds * (dense_per_fold - per_fold)
    # Systolic WS/IS: the packed mode packs reduction elements into a PE's operand; the
    # reduction is spatial here (rows), so packing shrinks the row folds instead.
    sr_packed = _ceil_div(sr, macs_per_cycle)
    folds = batch * _ceil_div(sr_packed, R) * _ceil_div(sc, C)
    per_fold = (2 * R + C + t - 2).astype(np.float64)
    return folds * per_fold, folds, np.zeros_like(per_fold)


def utilization(macs: np.ndarray, cycles: np.ndarray, compute: ComputeSpec, macs_per_cycle: int) -> np.ndarray:
    """Useful MACs over the array's peak MACs in ``cycles`` (0 where cycles is 0)."""
    peak = cycles * compute.rows * compute.cols * macs_per_cycle
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, macs / peak, 0.0)
