"""The mapper: tile factorizations × loop orders × spatial unrollings, scored in batches.

For a problem, a design and a spatial preset:

1. spatial candidates: every choice of factors of the preset's row dimensions (product at most
   the rows; the preset's ``whole_rows`` unrolled whole where they fit) and column dimensions
   (at most the columns), a factor being a divisor of the bound
   or a balanced imperfect tile ``ceil(D / n)`` (``n`` iterations, the last partial); the
   ``spatial_keep`` perfect ones and the ``spatial_keep`` imperfect ones that keep the most PEs
   busy on average go on (ties: the preset's order of preference);
2. random-pruned sampling (Timeloop style): per candidate, ``samples`` random temporal
   factorizations (every prime factor of ``ceil(D / spatial)`` goes to a random level, then
   the outermost loop of each dimension is set to ``ceil(D / the loops inside it)``),
   each level's loop order one of the three stationary orders (the loops an operand ignores
   innermost, so it stays put) or a random permutation; candidates whose tiles overflow a level
   are pruned by the scorer;
3. local search from the best sample of every spatial candidate (the best result wins, ties to
   the earlier candidate, perfect ones first, so adding imperfect candidates never loses what a
   perfect-only search finds): move one prime factor of one dimension between two levels,
   exchange two primes of two dimensions between two levels, or move one loop of a level to
   another place in its order (:func:`_neighbours`); take the best move while it improves.

Scores: ``energy`` (pJ), ``latency`` (cycles) or ``edp`` (their product), ties to the first
candidate. Everything is seeded: the same inputs give the same mapping. A :class:`Mapper` keeps
the results per (problem shape, design, preset, objective) so a sweep maps each shape once.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from accelerator.errors import SimulationError
from simulator.cost.nest.analysis import NestResult, evaluate
from simulator.cost.nest.arch import NestArch
from simulator.cost.nest.counts import axis_coefs
from simulator.cost.nest.mapping import Mapping
from simulator.cost.nest.presets import SpatialPreset
from simulator.cost.nest.problem import RELEVANT, Problem
from simulator.cost.nest.score import ArchArrays, arch_arrays, score

Objective = Literal["energy", "latency", "edp"]


def _primes(n: int) -> list[int]:
    out, d = [], 2
    while n > 1:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _tiles(bound: int, extent: int) -> list[int]:
    """Spatial factors of ``bound`` on an axis of ``extent`` PEs: its divisors, and for every
    iteration count ``n`` the balanced imperfect tile ``ceil(bound / n)`` (the last of the ``n``
    iterations partial) that fits."""
    out = {d for d in _divisors(bound) if d <= extent}
    out |= {-(-bound // n) for n in range(1, bound + 1) if -(-bound // n) <= extent}
    return sorted(out)


def _axis_choices(dims: tuple[int, ...], bounds: list[int], extent: int) -> list[dict[int, int]]:
    out = []
    for combo in itertools.product(*(_tiles(bounds[d], extent) for d in dims)):
        if int(np.prod(combo)) <= extent:
            out.append(dict(zip(dims, combo, strict=True)))
    return out


def spatial_candidates(
    problem: Problem, arch: NestArch, preset: SpatialPreset, keep: int
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(rows, cols) spatial factor 7-tuples: the ``keep`` perfect ones (divisors) keeping the most
    PEs busy, then the ``keep`` imperfect ones keeping the most busy on average (a factor ``s`` of
    a bound ``D`` keeps ``D / ceil(D / s)`` busy: the last iteration is partial). The perfect ones
    come first so that the sampling draws for them are those of a perfect-only search."""
    bounds = list(problem.bounds)
    perfect: list[tuple[float, int, tuple[int, ...], tuple[int, ...]]] = []
    imperfect: list[tuple[float, int, tuple[int, ...], tuple[int, ...]]] = []
    for rows in _axis_choices(preset.rows, bounds, arch.rows):
        if any(bounds[d] <= arch.rows and rows.get(d, 1) != bounds[d] for d in preset.whole_rows):
            continue  # the preset unrolls this dimension whole (row-stationary's filter rows)
        left = [-(-b // rows.get(d, 1)) for d, b in enumerate(bounds)]
        for cols in _axis_choices(preset.cols, left, arch.cols):
            r = tuple(rows.get(d, 1) for d in range(7))
            c = tuple(cols.get(d, 1) for d in range(7))
            busy = math.prod(b / -(-b // (r[d] * c[d])) for d, b in enumerate(bounds))
            exact = all(b % (r[d] * c[d]) == 0 for d, b in enumerate(bounds))
            found = perfect if exact else imperfect
            found.append((-busy, len(found), r, c))
    perfect.sort()
    imperfect.sort()
    return [(r, c) for _, _, r, c in perfect[:keep] + imperfect[:keep]]


def _stationary_orders() -> np.ndarray:
    """Per operand, an order with the dimensions it ignores innermost."""
    rows = []
    for rel in RELEVANT:
        rows.append([d for d in range(7) if rel[d]] + [d for d in range(7) if not rel[d]])
    return np.array(rows, dtype=np.int64)


@dataclass
class Mapper:
    """Seeded mapping search with a cache (kept in the object, never global)."""

    samples: int = 600
    spatial_keep: int = 3
    imperfect: bool = True  # also propose imperfect spatial factors (False: divisors only)
    local_rounds: int = 30
    seed: int = 0
    cache: dict[tuple[object, ...], Mapping] = field(default_factory=dict)

    def best(self, problem: Problem, arch: NestArch, preset: SpatialPreset, objective: Objective = "edp") -> NestResult:
        """The best mapping found for ``problem`` on ``arch``, evaluated."""
        key = (problem.bounds, problem.stride, problem.dilation, arch.key(), preset, objective)
        if key not in self.cache:
            self.cache[key] = self._search(problem, arch, preset, objective)
        return evaluate(problem, arch, self.cache[key])

    def _search(self, problem: Problem, arch: NestArch, preset: SpatialPreset, objective: Objective) -> Mapping:
        rng = np.random.default_rng(self.seed)
        aa = arch_arrays(arch)
        bounds = np.asarray(problem.bounds, np.int64)
        coef = axis_coefs(problem.stride, problem.dilation)
        nlev = len(arch.levels)
        stationary = _stationary_orders()
        pool_f, pool_o, pool_s = [], [], []
        unrollings = spatial_candidates(problem, arch, preset, self.spatial_keep)
        if not self.imperfect:
            unrollings = [(r, k) for r, k in unrollings if all(b % (r[d] * k[d]) == 0 for d, b in enumerate(bounds))]
        for rows, cols in unrollings:
            sp = np.ones((nlev, 7), np.int64)
            sp[arch.fanout_level] = np.multiply(rows, cols)
            left = [-(-int(b) // int(s)) for b, s in zip(bounds, sp[arch.fanout_level], strict=True)]
            f = np.ones((self.samples, nlev, 7), np.int64)
            for d in range(7):
                for p in _primes(left[d]):
                    lv = rng.integers(0, nlev, self.samples)
                    f[np.arange(self.samples), lv, d] *= p
            f[0, :, :] = 1  # everything at DRAM: always fits
            f[0, nlev - 1, :] = left
            _cover(f, bounds, sp[arch.fanout_level], arch.fanout_level)
            o = np.empty((self.samples, nlev, 7), np.int64)
            pick = rng.integers(0, 4, (self.samples, nlev))
            perms = rng.permuted(np.tile(np.arange(7), (self.samples, nlev, 1)), axis=2)
            for k in range(3):
                o[pick == k] = stationary[k]
            o[pick == 3] = perms[pick == 3]
            pool_f.append(f)
            pool_o.append(o)
            pool_s.append(np.broadcast_to(sp, f.shape).copy())
        if not pool_f:
            raise SimulationError(f"{problem.name!r}: no spatial unrolling of {preset.name} fits {arch.name}")
        factors, orders, spatial = np.concatenate(pool_f), np.concatenate(pool_o), np.concatenate(pool_s)
        cost = self._cost(aa, bounds, coef, factors, orders, spatial, objective)
        # local search from the best sample of every spatial unrolling; the best result wins
        # (ties: the earlier unrolling, perfect ones first, so a perfect-only search finds the same)
        c = np.inf
        for u in range(len(unrollings)):
            block = cost[u * self.samples : (u + 1) * self.samples]
            if not np.isfinite(block).any():
                continue
            start = u * self.samples + int(np.argmin(block))
            got = self._local(aa, bounds, coef, factors[start], orders[start], spatial[start], cost[start], objective)
            if got[3] < c:
                (f, o, _, c), (rows, cols) = got, unrollings[start // self.samples]
        if not np.isfinite(c):
            raise SimulationError(f"{problem.name!r}: no mapping fits {arch.name}")
        return Mapping(
            factors=tuple(tuple(int(x) for x in row) for row in f),  # type: ignore[misc]
            orders=tuple(tuple(int(x) for x in row) for row in o),  # type: ignore[misc]
            spatial_rows=rows,  # type: ignore[arg-type]
            spatial_cols=cols,  # type: ignore[arg-type]
        )

    def _local(
        self,
        aa: ArchArrays,
        bounds: np.ndarray,
        coef: np.ndarray,
        f: np.ndarray,
        o: np.ndarray,
        s: np.ndarray,
        c: float,
        objective: Objective,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Local search from ``(f, o, s)`` of cost ``c``: the best neighbour while it improves."""
        for _ in range(self.local_rounds):
            nf, no, ns = _neighbours(f, o, s)
            if len(nf) == 0:
                break
            _cover(nf, bounds, s[aa.fanout], aa.fanout)
            nc = self._cost(aa, bounds, coef, nf, no, ns, objective)
            j = int(np.argmin(nc))
            if not nc[j] < c:
                break
            f, o, s, c = nf[j], no[j], ns[j], float(nc[j])
        return f, o, s, c

    @staticmethod
    def _cost(
        aa: ArchArrays,
        bounds: np.ndarray,
        coef: np.ndarray,
        f: np.ndarray,
        o: np.ndarray,
        s: np.ndarray,
        objective: Objective,
    ) -> np.ndarray:
        e, c = score(aa, bounds, coef, f, o, s)
        if objective == "energy":
            return e
        if objective == "latency":
            return c + e * 1e-12  # energy breaks latency ties
        return e * c


def _cover(f: np.ndarray, bounds: np.ndarray, spatial: np.ndarray, fanout: int) -> None:
    """Set, in place, each dimension's outermost temporal loop of every candidate ``(n, levels,
    7)`` to ``ceil(D / the loops inside it)`` (so an imperfect factor above the array covers
    exactly ``D``, no wholly idle iteration); a candidate whose outermost loop is the spatial one
    is left as is (the scorer rejects it if it does not cover ``D``)."""
    nlev = f.shape[1]
    for d in range(7):
        if bounds[d] == 1:
            continue
        # slots outermost first: temporal levels DRAM..fanout, the array, fanout-1..0
        cols = [f[:, lv, d] for lv in range(nlev - 1, fanout - 1, -1)]
        cols.append(np.full(f.shape[0], spatial[d]))
        cols += [f[:, lv, d] for lv in range(fanout - 1, -1, -1)]
        slots = np.stack(cols, axis=1)
        levels = [*range(nlev - 1, fanout - 1, -1), -1, *range(fanout - 1, -1, -1)]
        inner = np.ones_like(slots)
        for j in range(slots.shape[1] - 2, -1, -1):
            inner[:, j] = inner[:, j + 1] * slots[:, j + 1]
        first = np.argmax(slots > 1, axis=1)
        rows = np.arange(f.shape[0])
        want = -(-int(bounds[d]) // inner[rows, first])
        for j, lv in enumerate(levels):
            if lv >= 0:
                sel = first == j
                f[sel, lv, d] = want[sel]


def _neighbours(f: np.ndarray, o: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The local search's moves from factors ``f`` and orders ``o`` (``(levels, 7)``): move one prime
    factor of one dimension to another level; exchange two (a prime of one dimension from level
    ``a`` to ``b`` and one of another dimension from ``b`` to ``a``: the move that trades one tile
    for another in a full buffer, which no single move reaches without overflowing); move one loop
    of a level to another place among that level's loops (loops of bound 1 go last: their place
    changes nothing, so swapping through them was a plateau)."""
    nlev = f.shape[0]
    nf, no = [], []
    moves = [(d, a, p) for d in range(7) for a in range(nlev) for p in sorted(set(_primes(int(f[a, d]))))]
    for d, a, p in moves:
        for b in range(nlev):
            if b != a:
                g = f.copy()
                g[a, d] //= p
                g[b, d] *= p
                nf.append(g)
                no.append(o)
    for d, a, p in moves:
        for e, b, q in moves:
            if e != d and b != a:
                g = f.copy()
                g[a, d] //= p
                g[b, d] *= p
                g[b, e] //= q
                g[a, e] *= q
                nf.append(g)
                no.append(o)
    for lv in range(nlev):
        loops = [int(d) for d in o[lv] if f[lv, d] > 1]
        rest = [int(d) for d in o[lv] if f[lv, d] <= 1]
        for i, j in itertools.permutations(range(len(loops)), 2):
            if j == i - 1:
                continue  # the same order as moving loop j to place i
            moved = loops[:i] + loops[i + 1 :]
            moved.insert(j, loops[i])
            g = o.copy()
            g[lv] = moved + rest
            nf.append(f)
            no.append(g)
    k = len(nf)
    return np.array(nf), np.array(no), np.broadcast_to(s, (k, *s.shape)).copy()
