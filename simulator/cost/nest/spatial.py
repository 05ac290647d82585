"""The mapper's spatial candidates: which factors of which dimensions go across the array.

For a problem shape, an ``n_rows × n_cols`` array and a spatial preset
(:mod:`simulator.cost.nest.presets`): every choice of factors of the preset's row dimensions
(product at most the rows; the preset's ``whole_rows`` unrolled whole where they fit) and column
dimensions (at most the columns), a factor being a divisor of the bound or a balanced imperfect
tile ``ceil(D / n)`` (``n`` iterations, the last partial); the ``keep`` perfect ones and the
``keep`` imperfect ones that keep the most PEs busy on average go on (ties: the order of
enumeration, the preset's order of preference).

Speed: the candidates of a (shape, array, preset) are kept once per process (:func:`clear`
forgets them); the busy PEs of every (row choice, column choice) and the best ``keep`` of each
kind are computed by one compiled loop (:func:`_best`, numba) instead of numpy arrays of every
combination: the same products in the same order, so the same floats and the same ties.
"""

from __future__ import annotations

import functools
import itertools
import math

import numba
import numpy as np

from simulator.cost.nest.presets import SpatialPreset

#: One spatial candidate: the (rows, cols) spatial factor 7-tuples.
Unrolling = tuple[tuple[int, ...], tuple[int, ...]]


def _tiles(bound: int, extent: int) -> list[int]:
    """Spatial factors of ``bound`` on an axis of ``extent`` PEs, ascending: its divisors, and for
    every iteration count ``n`` the balanced imperfect tile ``ceil(bound / n)`` (the last of the
    ``n`` iterations partial) that fits. A tile ``v`` is one when ``n = ceil(bound / v)``
    iterations give it back: ``ceil(bound / n) == v``."""
    return [v for v in range(1, min(bound, extent) + 1) if bound % v == 0 or -(-bound // -(-bound // v)) == v]


@functools.lru_cache(maxsize=4096)
def _axis_choices(dims: tuple[int, ...], bounds: tuple[int, ...], extent: int) -> np.ndarray:
    """Every combination of spatial factors of ``dims`` (bounds ``bounds``, one per dimension)
    whose product fits ``extent``, in :func:`itertools.product` order, ``(m, len(dims))``."""
    out = [combo for combo in itertools.product(*(_tiles(b, extent) for b in bounds)) if math.prod(combo) <= extent]
    arr = np.array(out, np.int64).reshape(len(out), len(dims))
    arr.flags.writeable = False
    return arr


@numba.njit(cache=True)
def _busy(bounds, factors):  # type: ignore[no-untyped-def]
    """Per row of ``factors`` ``(m, 7)`` and dimension: ``D / ceil(D / u)`` and whether ``u`` divides ``D``."""
    m = factors.shape[0]
    busy = np.empty((m, 7), np.float64)
    exact = np.empty((m, 7), np.bool_)
    for i in range(m):
        for d in range(7):
            u = factors[i, d]
            busy[i, d] = bounds[d] / (-(-bounds[d] // u))
            exact[i, d] = bounds[d] % u == 0
    return busy, exact


@numba.njit(cache=True)
def _best(bounds, rows, cols, start, block, keep):  # type: ignore[no-untyped-def]
    """The ``keep`` perfect and the ``keep`` imperfect unrollings keeping the most PEs busy, in
    enumeration order: every row choice ``rows[i]`` ``(m, 7)`` with each column choice of its
    block, ``cols[start[block[i]]:start[block[i] + 1]]``. Busy PEs of an unrolling ``u``: the
    product over the dimensions, left to right, of ``D / ceil(D / u)``; perfect: ``u`` divides
    every bound. Returns ``(pairs, n)``: ``pairs[g, :n[g]]`` the (row, column) indices of group
    ``g`` (0 perfect, 1 imperfect), most busy first, ties to the earlier."""
    top = np.empty((2, max(keep, 1)), np.float64)
    pairs = np.zeros((2, max(keep, 1), 2), np.int64)
    n = np.zeros(2, np.int64)
    if keep <= 0:
        return pairs, n
    # D / ceil(D / u) and whether u divides D, per row choice and per column choice alone (u is
    # the product of both; where one of them is 1 the other's numbers are the pair's)
    row_busy, row_exact = _busy(bounds, rows)
    col_busy, col_exact = _busy(bounds, cols)
    for i in range(rows.shape[0]):
        b0 = block[i]
        for j in range(start[b0], start[b0 + 1]):
            busy = 1.0
            exact = True
            for d in range(7):
                if cols[j, d] == 1:
                    busy = busy * row_busy[i, d]
                    exact = exact and row_exact[i, d]
                elif rows[i, d] == 1:
                    busy = busy * col_busy[j, d]
                    exact = exact and col_exact[j, d]
                else:
                    u = rows[i, d] * cols[j, d]
                    busy = busy * (bounds[d] / (-(-bounds[d] // u)))
                    exact = exact and bounds[d] % u == 0
            g = 0 if exact else 1
            k = n[g]
            if k == keep:
                if not busy > top[g, keep - 1]:
                    continue
                k = keep - 1
            pos = k
            while pos > 0 and top[g, pos - 1] < busy:
                top[g, pos] = top[g, pos - 1]
                pairs[g, pos] = pairs[g, pos - 1]
                pos -= 1
            top[g, pos] = busy
            pairs[g, pos, 0] = i
            pairs[g, pos, 1] = j
            n[g] = k + 1
    return pairs, n


@functools.lru_cache(maxsize=4096)
def candidates(
    bounds: tuple[int, ...], n_rows: int, n_cols: int, preset: SpatialPreset, keep: int
) -> tuple[Unrolling, ...]:
    """The spatial candidates of a shape on an ``n_rows × n_cols`` array (module docstring): the
    perfect ones first, then the imperfect ones (cached: designs of a sweep with the same array
    share them)."""
    b = np.asarray(bounds, np.int64)
    rc = _axis_choices(preset.rows, tuple(bounds[d] for d in preset.rows), n_rows)
    r = np.ones((len(rc), 7), np.int64)
    r[:, list(preset.rows)] = rc
    for d in preset.whole_rows:  # the preset unrolls this dimension whole (row-stationary's filter rows)
        if bounds[d] <= n_rows:
            r = r[r[:, d] == bounds[d]]
    left = -(-b[list(preset.cols)] // r[:, list(preset.cols)])
    # the column choices depend on a row choice only through what it leaves of the column dimensions
    keys: dict[tuple[int, ...], int] = {}
    block = np.array([keys.setdefault(tuple(x), len(keys)) for x in left.tolist()], np.int64)
    blocks = [_axis_choices(preset.cols, x, n_cols) for x in keys]
    start = np.zeros(len(blocks) + 1, np.int64)
    start[1:] = np.cumsum([len(cc) for cc in blocks])
    cols = np.ones((int(start[-1]), 7), np.int64)
    if len(cols):
        cols[:, list(preset.cols)] = np.concatenate(blocks)
    pairs, n = _best(b, r, cols, start, block, keep)
    return tuple(
        (tuple(int(x) for x in r[i]), tuple(int(x) for x in cols[j])) for g in range(2) for i, j in pairs[g, : n[g]]
    )


def clear() -> None:
    """Forget the candidates and axis choices kept."""
    candidates.cache_clear()
    _axis_choices.cache_clear()
