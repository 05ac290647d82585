"""The fast strategy's compiled kernels (numba): the seeds' fill by capacity, the kicks, the
sizes of the neighbour kinds and the local search, a whole descent per call, each step scored
kind by kind (:mod:`simulator.cost.nest.fast` describes the strategy)."""

from __future__ import annotations

import functools

import numba
import numpy as np

from simulator.cost.nest.moves import cover, distinct_primes, neighbours
from simulator.cost.nest.score import _score, objective
from simulator.cost.nest.tiles import tile_words, tiles_fit


@numba.njit(cache=True)
def fits(f, sp, bounds, coef, holds, word_bytes, copies, prefetched, size, opsize):  # type: ignore[no-untyped-def]
    """Whether the tiles of factors ``f`` (spatial ``sp``) fit every level, by the scorer's rule
    (:func:`.tiles.tiles_fit`)."""
    return tiles_fit(tile_words(bounds, coef, f, sp, holds), f, holds, word_bytes, copies, prefetched, size, opsize)


@numba.njit(cache=True)
def fill_level(f, lv, order, balanced, skip, sp, bounds, coef, holds, word_bytes, copies, prefetched, size, opsize):  # type: ignore[no-untyped-def]
    """Move, in place, prime factors of what DRAM (the last level of ``f``) holds down to level
    ``lv``, in the dimension sequence ``order`` (outermost first: taken from its end), smallest
    prime first, each kept if every tile still fits (:func:`fits`); ``balanced``: one prime per
    dimension in turn, else every prime of a dimension before the next; dimension ``skip`` (-1:
    none) stays where it is."""
    top = f.shape[0] - 1
    blocked = np.zeros(7, np.bool_)
    if skip >= 0:
        blocked[skip] = True
    progress = True
    while progress:
        progress = False
        for t in range(6, -1, -1):
            d = order[t]
            while not blocked[d] and f[top, d] > 1:
                p = 2
                while f[top, d] % p != 0:
                    p += 1
                f[top, d] //= p
                f[lv, d] *= p
                if not fits(f, sp, bounds, coef, holds, word_bytes, copies, prefetched, size, opsize):
                    f[top, d] *= p
                    f[lv, d] //= p
                    blocked[d] = True
                else:
                    progress = True
                    if balanced:
                        break


@numba.njit(cache=True)
def fill(bounds, coef, left, sp, holds, word_bytes, copies, prefetched, size, opsize, orders, balanced, first):  # type: ignore[no-untyped-def]
    """Factors ``(levels, 7)`` of a seed: everything (``left``: ``ceil(D / spatial)``) at DRAM,
    then each level from ``first`` up to the one below DRAM filled by :func:`fill_level` in its
    order ``orders[lv]``."""
    nlev = sp.shape[0]
    f = np.ones((nlev, 7), np.int64)
    for d in range(7):
        f[nlev - 1, d] = left[d]
    for lv in range(first, nlev - 1):
        fill_level(
            f, lv, orders[lv], balanced, -1, sp, bounds, coef, holds, word_bytes, copies, prefetched, size, opsize
        )
    return f


@numba.njit(cache=True)
def same(a, b):  # type: ignore[no-untyped-def]
    """Whether two ``(levels, 7)`` arrays are equal (no temporary array: this runs often)."""
    for lv in range(a.shape[0]):
        for d in range(7):
            if a[lv, d] != b[lv, d]:
                return False
    return True


@numba.njit(cache=True)
def kicks(f, o, sp, fanout, bounds, coef, holds, word_bytes, copies, prefetched, size, opsize, stationary):  # type: ignore[no-untyped-def]
    """Perturbations of a local optimum ``(f, o)`` (spatial ``sp``): for each level below DRAM
    and each dimension with a factor above 1 there, that factor sent to DRAM and the level
    refilled by :func:`fill_level` in its own order without it (both ways of taking primes),
    the bounds covered again; each with the output-, input- and weight-stationary order at DRAM
    (``stationary``, that order); duplicates and ``(f, o)`` itself dropped. Returns
    ``(factors, orders)``, ``(k, levels, 7)`` each."""
    nlev = f.shape[0]
    top = nlev - 1
    cap = 2 * 7 * top * 3
    out_f = np.empty((cap, nlev, 7), np.int64)
    out_o = np.empty((cap, nlev, 7), np.int64)
    k = 0
    for lv in range(top):
        for d in range(7):
            if f[lv, d] == 1:
                continue
            for balanced in (True, False):
                g = f.copy()
                g[top, d] *= g[lv, d]
                g[lv, d] = 1
                cover(g.reshape(1, nlev, 7), bounds, sp[fanout], fanout)
                fill_level(
                    g, lv, o[lv], balanced, d, sp, bounds, coef, holds, word_bytes, copies, prefetched, size, opsize
                )
                cover(g.reshape(1, nlev, 7), bounds, sp[fanout], fanout)
                for t in range(2, -1, -1):
                    h = o.copy()
                    h[top] = stationary[t]
                    dup = same(g, f) and same(h, o)
                    for j in range(k):
                        dup = dup or (same(out_f[j], g) and same(out_o[j], h))
                    if not dup:
                        out_f[k] = g
                        out_o[k] = h
                        k += 1
    return out_f[:k], out_o[:k]


@functools.lru_cache(maxsize=16)
def variants(nlev: int) -> np.ndarray:
    """The seeds' fill variants on ``nlev`` levels, one row each: the first level filled (0; and
    1, the innermost left empty, where two or more levels lie below DRAM), one prime per
    dimension in turn (1) or whole dimensions (0), then the stationary order of each level below
    DRAM (one of the three, the same at every level)."""
    out = [
        (first, balanced, *([k] * (nlev - 1)))
        for k in range(3)
        for first in range(min(1, nlev - 2) + 1)
        for balanced in (1, 0)
    ]
    return np.array(out, np.int64).reshape(len(out), nlev + 1)


@numba.njit(cache=True)
def seeds(bounds, coef, spatial, fanout, holds, word_bytes, copies, prefetched, size, opsize, stationary, fills):  # type: ignore[no-untyped-def]
    """Every spatial candidate's seeds (:mod:`.fast`, step 1): ``spatial`` ``(u, levels, 7)``
    (the candidates' factors at the fan-out level ``fanout``, 1 elsewhere); per fill variant
    (``fills``: rows of :func:`variants`) the filled factors with each of the three stationary
    orders at DRAM, duplicates within a candidate dropped, the outermost loops covering the
    bounds (:func:`.moves.cover`). Returns ``(factors, orders, spatial, owner)``: ``k`` seeds
    and the candidate each belongs to."""
    nu, nlev = spatial.shape[0], spatial.shape[1]
    top = nlev - 1
    nv = fills.shape[0]
    cap = nu * nv * 3
    fs = np.empty((cap, nlev, 7), np.int64)
    os_ = np.empty((cap, nlev, 7), np.int64)
    ss = np.empty((cap, nlev, 7), np.int64)
    owner = np.empty(cap, np.int64)
    left = np.empty(7, np.int64)
    o = np.empty((nlev, 7), np.int64)
    k = 0
    for u in range(nu):
        sp = spatial[u]
        for d in range(7):
            left[d] = -(-bounds[d] // sp[fanout, d])
        first = k
        for v in range(nv):
            for lv in range(top):
                for t in range(7):
                    o[lv, t] = stationary[fills[v, 2 + lv], t]
            f = fill(
                bounds,
                coef,
                left,
                sp,
                holds,
                word_bytes,
                copies,
                prefetched,
                size,
                opsize,
                o,
                fills[v, 1] == 1,
                fills[v, 0],
            )
            cover(f.reshape(1, nlev, 7), bounds, sp[fanout], fanout)
            for t in range(3):
                o[top] = stationary[t]
                dup = False
                for j in range(first, k):
                    dup = same(fs[j], f) and same(os_[j], o)
                    if dup:
                        break
                if not dup:
                    fs[k] = f
                    os_[k] = o
                    ss[k] = sp
                    owner[k] = u
                    k += 1
    return fs[:k], os_[:k], ss[:k], owner[:k]


@numba.njit(cache=True)
def move_counts(f):  # type: ignore[no-untyped-def]
    """How many prime moves and exchanges :func:`.moves.neighbours` makes from factors ``f``
    (its loop moves follow them)."""
    nlev = f.shape[0]
    held_d = np.empty(7 * nlev * 64, np.int64)
    held_a = np.empty(7 * nlev * 64, np.int64)
    buf = np.empty(64, np.int64)
    nm = 0
    for d in range(7):
        for a in range(nlev):
            for _ in range(distinct_primes(f[a, d], buf)):  # each distinct prime held at (a, d)
                held_d[nm] = d
                held_a[nm] = a
                nm += 1
    pairs = 0
    for x in range(nm):
        for y in range(nm):
            if held_d[x] != held_d[y] and held_a[x] != held_a[y]:
                pairs += 1
    return nm * (nlev - 1), pairs


@numba.njit(cache=True)
def first_improving(  # type: ignore[no-untyped-def]
    f, c, bounds, coef, factors, orders, spatial, arch, counts, rows, static_pj, idle_pj, pes, kind
):
    """One step of the local search from factors ``f`` of cost ``c``: the neighbours ``(factors,
    orders, spatial)`` of :func:`.moves.neighbours` scored kind by kind (prime moves, exchanges,
    loop moves: :func:`move_counts`), each kind by :func:`.score._score` on the design ``arch``
    (its arguments from ``holds`` to ``refill``, in order), the neighbours' ``counts`` (the next
    seven, filled in as it goes) and the pool's counted candidates ``rows`` (:mod:`.rows`, room
    made for every neighbour), and :func:`.score.objective`; the first kind whose best
    neighbour costs less than ``c`` gives ``(its index, its cost)`` (ties: the first), no kind
    ``(-1, c)``. A kind with a NaN cost improves nothing (numpy's ``min`` of it is NaN)."""
    moves, pairs = move_counts(f)
    ends = (moves, moves + pairs, factors.shape[0])
    a = 0
    for b in ends:
        if b > a:
            e, cy = _score(
                bounds, coef, factors[a:b], orders[a:b], spatial[a:b],
                arch[0], arch[1], arch[2], arch[3], arch[4], arch[5], arch[6], arch[7], arch[8], arch[9],
                arch[10], arch[11], arch[12], arch[13], arch[14], arch[15], arch[16], arch[17], arch[18], arch[19],
                counts[0][a:b], counts[1][a:b], counts[2][a:b], counts[3][a:b], counts[4][a:b], counts[5][a:b],
                counts[6][a:b], rows,
            )  # fmt: skip
            nc = objective(e, cy, spatial[a:b], static_pj, idle_pj, pes, kind)
            best, at, nan = np.inf, -1, False
            for i in range(b - a):
                if np.isnan(nc[i]):
                    nan = True
                elif nc[i] < best:
                    best, at = nc[i], i
            if not nan and at >= 0 and best < c:
                return a + at, best
        a = b
    return -1, c


@numba.njit(cache=True)
def best_of(cost, owner, groups):  # type: ignore[no-untyped-def]
    """Per group ``u < groups``, the index of its cheapest member (``owner[i] == u``; ties and NaN
    as numpy's ``argmin`` over the group in order: the first NaN, else the first minimum); -1 for
    a group without members."""
    out = np.full(groups, -1, np.int64)
    nan = np.zeros(groups, np.bool_)
    for i in range(cost.shape[0]):
        u = owner[i]
        if nan[u]:
            continue
        if np.isnan(cost[i]):
            out[u] = i
            nan[u] = True
        elif out[u] < 0 or cost[i] < cost[out[u]]:
            out[u] = i
    return out


@numba.njit(cache=True)
def descend(f, o, s, c, rounds, bounds, coef, fanout, arch, rows, static_pj, idle_pj, pes, kind):  # type: ignore[no-untyped-def]
    """Local search from ``(f, o)`` (spatial factors ``s``) of cost ``c``, at most ``rounds``
    steps: per step the neighbours of :func:`.moves.neighbours` with the bounds covered again
    (:func:`.moves.cover`), scored by :func:`first_improving` (the arguments as there; their
    counts found in, or entered into, the table ``rows``), until no move improves. Returns
    ``(f, o, c, steps, need)``: ``need`` 0 when done, else the neighbours of the next step, for
    which the table lacks room (``steps`` taken so far: the caller makes room and goes on)."""
    nlev = f.shape[0]
    slots, room, used = rows[0], rows[1].shape[0], rows[3]
    for r in range(rounds):
        nf, no = neighbours(f, o)
        k = nf.shape[0]
        if k == 0:
            break
        if slots.shape[0] > 0 and used[0] + k > room:
            return f, o, c, r, k
        cover(nf, bounds, s[fanout], fanout)
        ns = np.empty((k, nlev, 7), np.int64)
        for i in range(k):
            ns[i] = s
        counts = (
            np.zeros(k, np.int8),
            np.zeros((k, nlev, 3)),
            np.zeros((k, nlev, 3)),
            np.zeros((k, nlev + 1, 3, 4)),
            np.zeros(k),
            np.zeros(k),
            np.zeros((k, 2)),
        )
        j, cj = first_improving(f, c, bounds, coef, nf, no, ns, arch, counts, rows, static_pj, idle_pj, pes, kind)
        if j < 0:
            break
        f = nf[j].copy()
        o = no[j].copy()
        c = cj
    return f, o, c, rounds, 0
