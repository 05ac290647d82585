"""The array's pipeline in the loop nest: fill and drain per change of the stationary operand.

A systolic array (weight- or input-stationary: SCALE-Sim's convention, Samajdar et al.,
ISPASS 2020) works through *folds*: the stationary operand is loaded into the PEs along the
rows, the streamed operand enters skewed across the columns and the partial sums drain out, so
a fold of ``T`` streamed rows takes ``2R + C + T − 2`` cycles on an ``R×C`` array (SCALE-Sim's
per-fold count, ``simulator/cost/array.py`` for the one-level model). Streamed rows of one fold
pass back to back, so the fixed ``2R + C − 2`` is paid once per *change* of the stationary tile,
not per buffer tile or per MAC cycle.

In the nest the stationary tile is what the array holds of the stationary operand (every PE's
registers and per-PE levels together); it changes when a temporal loop *above the array*
relevant to that operand steps. Walking those loops (the fan-out level's and every level's above
it, outermost first) from the innermost outward, loops the operand ignores are skipped until the
first relevant loop ``L``: the tile changes ``bound(L) × the bounds outside L`` times (the
:mod:`.counts` stationarity rule, applied at the array). Loops below the array (per PE) run inside
a fold: a PE's register file keeps its operands, so it streams without a bubble.

The output-stationary array is the PE tile of ``rtl/pe_tile`` replicated, as in the one-level
model: a fold is one tile op of ``2 + R`` fixed cycles plus one per beat
(:func:`accelerator.pe.tile_cycles`); a later visit of an output tile (its reduction split by a
loop above the array) is a delta-mode op that first preloads the stored partial sums (``R`` more).
Row-stationary (Eyeriss) is not a skewed pipeline (a NoC multicasts to the PEs): no term.

With imperfect factors each pass of the peeled nest (:func:`.counts.peeled_counts`) counts its
own changes; a pass of C, R or S revisits output tiles whose partial sums exist already.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from accelerator import pe
from simulator.cost.nest.problem import INP, OUT, RELEVANT, WGT

_RELEVANT = np.array(RELEVANT, dtype=np.bool_)


@dataclass(frozen=True)
class Pipeline:
    """Fixed cycles the array pays per visit of a stationary tile (units: cycles)."""

    stationary: int  # operand that stays in the PEs (WGT, INP or OUT)
    fill_cycles: float  # first visit of a tile: load, skew and drain (WS/IS 2R + C − 2; OS 2 + R)
    refill_cycles: float  # a later visit of the same tile (OS: preload of the partial sums, 2 + 2R)


def pipeline(dataflow: str, rows: int, cols: int) -> Pipeline | None:
    """The pipeline of an ``rows × cols`` array running ``dataflow`` (None: no fixed cost per fold)."""
    if dataflow in ("weight_stationary", "input_stationary"):
        fill = float(2 * rows + cols - 2)
        return Pipeline(WGT if dataflow == "weight_stationary" else INP, fill, fill)
    if dataflow == "output_stationary":
        first = pe.tile_cycles(0, "int8", rows=rows, cols=cols)
        again = pe.tile_cycles(0, "int8_delta", rows=rows, cols=cols, preload=True)
        return Pipeline(OUT, float(first), float(again))
    return None


@numba.njit(cache=True)
def visits(factors, orders, fanout, operand):  # type: ignore[no-untyped-def]
    """``(changes, distinct)`` of ``operand``'s tile in the array for temporal ``factors`` and
    ``orders`` ``(levels, 7)``: the loops at levels ``fanout`` and above, outermost first."""
    nlev = factors.shape[0]
    dims = np.empty(nlev * 7, np.int64)
    bnds = np.empty(nlev * 7, np.int64)
    n = 0
    for lv in range(nlev - 1, fanout - 1, -1):
        for j in range(7):
            d = orders[lv, j]
            if factors[lv, d] > 1:
                dims[n] = d
                bnds[n] = factors[lv, d]
                n += 1
    changes = 1.0
    distinct = 1.0
    inner = n - 1
    while inner >= 0 and not _RELEVANT[operand, dims[inner]]:
        inner -= 1
    for i in range(n):
        if i <= inner:
            changes *= bnds[i]
        if _RELEVANT[operand, dims[i]]:
            distinct *= bnds[i]
    return changes, distinct
