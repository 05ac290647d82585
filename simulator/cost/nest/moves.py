"""The mapper's array work on candidates, compiled (numba): covering the bounds and the local
search's neighbours.

:func:`cover` and :func:`neighbours` are the loops :mod:`simulator.cost.nest.search` ran in
Python and numpy, moved here unchanged in what they produce (the same candidates in the same
order, so the search's ties resolve alike); compiled, they no longer cost more than scoring.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def cover(f, bounds, spatial, fanout):  # type: ignore[no-untyped-def]
    """Set, in place, each dimension's outermost temporal loop of every candidate ``f`` ``(n,
    levels, 7)`` to ``ceil(D / the loops inside it)`` (so an imperfect factor above the array
    covers exactly ``D``, no wholly idle iteration); a candidate whose outermost loop is the
    spatial one (``spatial``: the fan-out level's factors, ``(7,)``) is left as is (the scorer
    rejects it if it does not cover ``D``). Slots outermost first: the temporal levels from DRAM
    down to ``fanout``, the array, then the levels below ``fanout``; without a loop above 1 the
    outermost slot (DRAM) takes ``D``."""
    n, nlev = f.shape[0], f.shape[1]
    nslot = nlev + 1
    slots = np.empty(nslot, np.int64)
    level = np.empty(nslot, np.int64)
    k = 0
    for lv in range(nlev - 1, fanout - 1, -1):
        level[k] = lv
        k += 1
    level[k] = -1
    k += 1
    for lv in range(fanout - 1, -1, -1):
        level[k] = lv
        k += 1
    for d in range(7):
        if bounds[d] == 1:
            continue
        for i in range(n):
            for j in range(nslot):
                slots[j] = spatial[d] if level[j] < 0 else f[i, level[j], d]
            first = 0
            while first < nslot and slots[first] <= 1:
                first += 1
            if first == nslot:
                first = 0
            inner = 1
            for j in range(first + 1, nslot):
                inner *= slots[j]
            if level[first] >= 0:
                f[i, level[first], d] = -(-bounds[d] // inner)


@numba.njit(cache=True)
def distinct_primes(n, out):  # type: ignore[no-untyped-def]
    """The distinct prime factors of ``n`` ascending, written to ``out``; returns how many."""
    k = 0
    p = 2
    while n > 1:
        if n % p == 0:
            out[k] = p
            k += 1
            while n % p == 0:
                n //= p
        p += 1
    return k


@numba.njit(cache=True)
def neighbours(f, o):  # type: ignore[no-untyped-def]
    """The local search's moves from factors ``f`` and orders ``o`` ``(levels, 7)``, in this order:
    move one prime factor of one dimension to another level; exchange two (a prime of one
    dimension from level ``a`` to ``b`` and one of another dimension from ``b`` to ``a``: the move
    that trades one tile for another in a full buffer, which no single move reaches without
    overflowing); move one loop of a level to another place among that level's loops (loops of
    bound 1 go last: their place changes nothing, so swapping through them was a plateau).
    Returns ``(factors, orders)``, ``(k, levels, 7)`` each."""
    nlev = f.shape[0]
    cap = 7 * nlev * 64
    md = np.empty(cap, np.int64)
    ma = np.empty(cap, np.int64)
    mp = np.empty(cap, np.int64)
    buf = np.empty(64, np.int64)
    nm = 0
    for d in range(7):
        for a in range(nlev):
            k = distinct_primes(f[a, d], buf)
            for t in range(k):
                md[nm] = d
                ma[nm] = a
                mp[nm] = buf[t]
                nm += 1
    npair = 0
    for x in range(nm):
        for y in range(nm):
            if md[y] != md[x] and ma[y] != ma[x]:
                npair += 1
    loops = np.empty((nlev, 7), np.int64)
    rest = np.empty((nlev, 7), np.int64)
    nloop = np.zeros(nlev, np.int64)
    nperm = 0
    for lv in range(nlev):
        r = 0
        for t in range(7):
            d = o[lv, t]
            if f[lv, d] > 1:
                loops[lv, nloop[lv]] = d
                nloop[lv] += 1
            else:
                rest[lv, r] = d
                r += 1
        m = nloop[lv]
        for i in range(m):
            for j in range(m):
                if j != i and j != i - 1:
                    nperm += 1
    total = nm * (nlev - 1) + npair + nperm
    nf = np.empty((total, nlev, 7), np.int64)
    no = np.empty((total, nlev, 7), np.int64)
    k = 0
    for x in range(nm):
        d, a, p = md[x], ma[x], mp[x]
        for b in range(nlev):
            if b != a:
                nf[k] = f
                nf[k, a, d] //= p
                nf[k, b, d] *= p
                no[k] = o
                k += 1
    for x in range(nm):
        d, a, p = md[x], ma[x], mp[x]
        for y in range(nm):
            e, b, q = md[y], ma[y], mp[y]
            if e != d and b != a:
                nf[k] = f
                nf[k, a, d] //= p
                nf[k, b, d] *= p
                nf[k, b, e] //= q
                nf[k, a, e] *= q
                no[k] = o
                k += 1
    for lv in range(nlev):
        m = nloop[lv]
        for i in range(m):
            for j in range(m):
                if j == i or j == i - 1:
                    continue  # j == i - 1: the same order as moving loop j to place i
                nf[k] = f
                no[k] = o
                # loops[lv] without place i, with loops[lv, i] inserted at place j, then the rest
                t = 0
                for s in range(m):
                    if s == i:
                        continue
                    if t == j:
                        no[k, lv, t] = loops[lv, i]
                        t += 1
                    no[k, lv, t] = loops[lv, s]
                    t += 1
                if t == j:
                    no[k, lv, t] = loops[lv, i]
                    t += 1
                for s in range(7 - m):
                    no[k, lv, m + s] = rest[lv, s]
                k += 1
    return nf, no
