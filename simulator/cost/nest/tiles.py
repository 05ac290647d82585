"""Tile sizes per level and the capacity rule (numba-compiled): what each level holds of each
operand under a mapping, whether it fits (partitions, pool, double-buffered and prefetched
copies), and what a double-buffered level hands down per iteration of its own loops. Used by the
scorer (:mod:`.score`), the fast strategy's fill (:mod:`.fast_kernels`) and the analysis."""

from __future__ import annotations

import numba
import numpy as np

from simulator.cost.nest.counts import AXIS_DIMS, RELEVANT_ARR


@numba.njit(cache=True)
def tile_words(bounds, coef, factors, spatial, holds):  # type: ignore[no-untyped-def]
    """Words of each operand's largest tile in one instance of each level (0 where it bypasses;
    extents capped at the bounds, so an imperfect outer loop does not inflate them)."""
    nlev = factors.shape[0]
    out = np.zeros((nlev, 3), np.float64)
    tile = np.ones(7, np.int64)
    ext = np.ones(7, np.int64)
    for lv in range(nlev):
        for d in range(7):
            tile[d] *= factors[lv, d] * spatial[lv, d]
            ext[d] = min(tile[d], bounds[d])  # an imperfect outer loop: the tile is at most the bound
        for o in range(3):
            if holds[lv, o]:
                vol = 1.0
                for a in range(4):
                    box = 1
                    for k in range(2):
                        dd = AXIS_DIMS[o, a, k]
                        if dd >= 0:
                            box += (ext[dd] - 1) * coef[o, a, k]
                    vol *= box
                out[lv, o] = vol
    return out


@numba.njit(cache=True)
def consumed_whole(f, holds, lv, o):  # type: ignore[no-untyped-def]
    """Whether the levels below ``lv`` take its tile of ``o`` whole: a level below holds ``o`` and
    no loop over a dimension of ``o`` runs at ``lv`` or at a level between them that bypasses it."""
    below = lv - 1
    while below >= 0 and not holds[below, o]:
        below -= 1
    if below < 0:
        return False
    for m in range(below + 1, lv + 1):
        for d in range(7):
            if RELEVANT_ARR[o, d] and f[m, d] > 1:
                return False
    return True


@numba.njit(cache=True)
def tiles_fit(tw, f, holds, word_bytes, copies, prefetched, size, opsize):  # type: ignore[no-untyped-def]
    """Whether tiles of ``tw`` words (:func:`tile_words`) fit every level: ``copies[lv, o]`` tiles of
    each operand (two where the level is double-buffered or prefetches it) in its partition
    (``opsize``, finite) or, together with the other unpartitioned operands, in the pool ``size``
    (DRAM: both infinite). The capacity rule of the scorer and of the fast strategy's fill."""
    for lv in range(tw.shape[0]):
        tot = 0.0
        for o in range(3):
            c = copies[lv, o]
            if prefetched[lv, o] and consumed_whole(f, holds, lv, o):
                c = 1.0
            b = tw[lv, o] * word_bytes[o] * c
            if np.isinf(opsize[lv, o]):  # the pool; a partitioned operand takes nothing from it
                tot += b
            elif b > opsize[lv, o]:
                return False
        if tot > size[lv]:
            return False
    return True


@numba.njit(cache=True)
def subtile_words(bounds, coef, factors, spatial, holds, lv):  # type: ignore[no-untyped-def]
    """Words of each operand that level ``lv`` hands down per iteration of its own temporal
    loops (its tile with those factors 1; 0 where it bypasses): what a double-buffered level
    must receive before the levels below it can start, and what it drains after they finish."""
    f = factors.copy()
    for d in range(7):
        f[lv, d] = 1
    return tile_words(bounds, coef, f, spatial, holds)[lv]
